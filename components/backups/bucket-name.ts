/**
 * S3 bucket names as the S3 API accepts them (AWS "General purpose bucket naming rules", which
 * Hetzner Object Storage and the other S3-compatible stores follow): 3-63 characters of lower-case
 * letters, digits, '.' and '-', starting and ending with a letter or digit, no two adjacent
 * periods, not an IPv4 address, and none of the prefixes and suffixes S3 reserves. Pure, so config
 * validation names the problem before any resource exists; restic would only fail at the first
 * backup ("The specified bucket is not valid").
 */
const RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/** What S3 refuses in `name`, as a phrase, or undefined. */
export function bucketNameProblem(name: string): string | undefined {
    if (name.length < 3 || name.length > 63) return `is ${name.length} characters long; an S3 bucket name has 3 to 63`;
    if (!/^[a-z0-9.-]+$/.test(name)) return "may hold only lower-case letters, digits, '.' and '-' (S3 bucket naming rules)";
    if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return "must start and end with a lower-case letter or a digit (S3 bucket naming rules)";
    if (name.includes("..")) return "has two adjacent periods, which S3 refuses";
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "is formatted as an IP address, which S3 refuses as a bucket name";
    const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
    if (prefix !== undefined) return `starts with ${prefix}, a prefix S3 reserves`;
    const suffix = RESERVED_SUFFIXES.find((s) => name.endsWith(s));
    if (suffix !== undefined) return `ends with ${suffix}, a suffix S3 reserves`;
    return undefined;
}
