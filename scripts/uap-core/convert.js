// Converts uap-core's regexes.yaml (the data set the ua-parser projects share) into the JSON
// that crates/useragent embeds: the same three lists, untouched, plus where they came from.
// JSON because the Rust side already reads JSON and YAML would add a parser for one file.
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const pkgDir = path.dirname(require.resolve("uap-core/package.json"));
const version = require("uap-core/package.json").version;
const source = fs.readFileSync(path.join(pkgDir, "regexes.yaml"), "utf8");
const data = YAML.parse(source);
for (const list of ["user_agent_parsers", "os_parsers", "device_parsers"]) {
    if (!Array.isArray(data[list]) || data[list].length === 0) {
        throw new Error(`uap-core ${version}: ${list} is missing or empty`);
    }
}
const out = {
    source: `uap-core ${version} (npm), regexes.yaml, Apache-2.0`,
    user_agent_parsers: data.user_agent_parsers,
    os_parsers: data.os_parsers,
    device_parsers: data.device_parsers,
};
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
