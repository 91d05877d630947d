/** The benchmark's floor: a process that only loads the Pulumi SDK and the providers the program uses. */
import "@pulumi/pulumi";
import "@pulumi/command";
import "@pulumi/docker";
import "@pulumi/hcloud";
import "@pulumi/kubernetes";
import "@pulumi/random";
import "@pulumi/tls";
import "@pulumiverse/time";
