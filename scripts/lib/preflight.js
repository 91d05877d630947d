// Loaded (plain JavaScript, no dependencies) in front of ts-node by every npm script: without the
// project's dependencies, say what to run in one line instead of Node's "Cannot find module" trace.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
const needed = ["ts-node", "@pulumi/pulumi", "zod", "yaml"];
const missing = needed.filter((name) => !fs.existsSync(path.join(root, "node_modules", name, "package.json")));
if (missing.length > 0) {
    process.stderr.write(`error: the project's dependencies are not installed (node_modules/${missing[0]} is missing): run npm ci in ${root}\n`);
    process.exit(2);
}
