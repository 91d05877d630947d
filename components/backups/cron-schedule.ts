/**
 * Cron schedules as the Kubernetes API validates a CronJob's `spec.schedule`: robfig/cron v3's
 * `ParseStandard` (kubernetes pkg/apis/batch/validation `validateScheduleFormat`): five fields
 * (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-6 or SUN-SAT),
 * each `*` (or its alias `?`), a value, a range `a-b`, a step `/n` on either, or a comma list of
 * those; or a descriptor (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
 * `@hourly`, `@every <duration>`). `TZ=`/`CRON_TZ=` prefixes are refused by the API since
 * Kubernetes 1.25 (use `timeZone`); the schedules here are UTC. Pure, no Pulumi import, so config
 * validation can say what is wrong before any resource exists.
 */

interface FieldBounds {
    name: string;
    min: number;
    max: number;
    names?: readonly string[];
}

// robfig/cron v3 spec.go: minutes, hours, dom, months (names jan..dec), dow (names sun..sat).
const FIELDS: readonly FieldBounds[] = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day of month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
    { name: "day of week", min: 0, max: 6, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const DESCRIPTORS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
/** Go's time.ParseDuration grammar, as `@every` takes it. */
const GO_DURATION = /^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$/;

function valueOf(text: string, field: FieldBounds): number | undefined {
    const named = field.names?.indexOf(text.toLowerCase()) ?? -1;
    if (named >= 0) return named + field.min;
    return /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The problem with one field, or undefined. */
function fieldProblem(text: string, field: FieldBounds): string | undefined {
    for (const part of text.split(",")) {
        const [range, step, extra] = part.split("/");
        if (extra !== undefined || range === "") return `${field.name} "${text}" is not a value, range or step`;
        if (step !== undefined && (!/^\d+$/.test(step) || Number(step) === 0)) return `${field.name} step "/${step}" must be a whole number above 0`;
        // robfig/cron v3 parser.go getRange: `*` and `?` are the same in every field.
        if (range === "*" || range === "?") continue;
        const [low, high, more] = range.split("-");
        if (more !== undefined) return `${field.name} "${range}" is not a range a-b`;
        const start = valueOf(low, field);
        const end = high === undefined ? start : valueOf(high, field);
        if (start === undefined || end === undefined) return `${field.name} "${range}" is not a number${field.names ? " or a name" : ""}`;
        if (start < field.min || end > field.max) return `${field.name} ${range} is outside ${field.min}-${field.max}`;
        if (start > end) return `${field.name} range ${range} runs backwards`;
    }
    return undefined;
}

/** What the Kubernetes API would refuse in `schedule`, in one phrase, or undefined when it is valid. */
export function cronScheduleProblem(schedule: string): string | undefined {
    const text = schedule.trim();
    if (/^(CRON_)?TZ=/.test(text)) return "carries a time zone, which the Kubernetes API refuses in a schedule; write it in UTC";
    if (text.startsWith("@")) {
        if (DESCRIPTORS.includes(text.toLowerCase())) return undefined;
        const every = /^@every (.+)$/.exec(text);
        if (every && GO_DURATION.test(every[1])) return undefined;
        return `"${text}" is not a cron descriptor (${DESCRIPTORS.join(", ")}, @every <duration>)`;
    }
    const fields = text.split(/\s+/);
    if (fields.length !== 5) return `has ${fields.length} fields; a cron schedule has five: minute hour day-of-month month day-of-week`;
    for (const [i, field] of FIELDS.entries()) {
        const problem = fieldProblem(fields[i], field);
        if (problem !== undefined) return problem;
    }
    return undefined;
}

/** The HH:MM (UTC) of a daily cron schedule `M H * * *`; undefined for any other schedule (what Compose can run). */
export function dailyTime(schedule: string): string | undefined {
    const match = /^(\d{1,2}) (\d{1,2}) \* \* \*$/.exec(schedule.trim());
    if (!match) return undefined;
    const [minute, hour] = [Number(match[1]), Number(match[2])];
    if (minute > 59 || hour > 23) return undefined;
    return `${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}`;
}
