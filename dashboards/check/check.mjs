// Checks the Grafana dashboards in the given directory (default ../grafana):
//  1. the conventions replywatch's dashboards keep: a fixed uid, a ${datasource}
//     variable used by every panel and query, the account and channel template
//     variables, unique panel ids;
//  2. Grafana's own types: each dashboard is written out as a TypeScript object literal
//     that must satisfy the Dashboard type of @grafana/schema, and each panel's options
//     and custom field config must satisfy the types of its panel plugin; tsc (strict)
//     type-checks them. Unknown keys, missing required options and wrong enum values fail.
//
// Usage: node check.mjs [DASHBOARD_DIR...]   (after `npm ci`; run.sh does both)
// Exits 0 when every dashboard passes, 1 otherwise.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dirs = process.argv.length > 2 ? process.argv.slice(2) : [path.join(here, '..', 'grafana')];
const workdir = path.join(process.cwd(), '.dashboard-types');
// The pinned packages: installed by `npm ci` in the current directory (run.sh) or here.
const modules = fs.existsSync(path.join(process.cwd(), 'node_modules/@grafana/schema'))
  ? path.join(process.cwd(), 'node_modules') : path.join(here, 'node_modules');

// Panel plugin -> module of @grafana/schema with its Options (and FieldConfig, if any).
const schema = '@grafana/schema/dist/esm/raw/composable';
const panelTypes = {
  timeseries: { module: `${schema}/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen`, fieldConfig: true },
  stat: { module: `${schema}/stat/panelcfg/x/StatPanelCfg_types.gen`, fieldConfig: false },
  bargauge: { module: `${schema}/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen`, fieldConfig: false },
  table: { module: `${schema}/table/panelcfg/x/TablePanelCfg_types.gen`, fieldConfig: true },
};

const problems = [];
const problem = (file, message) => problems.push(`${file}: ${message}`);

function* allPanels(panels) {
  for (const p of panels ?? []) {
    yield p;
    yield* allPanels(p.panels);
  }
}

function checkConventions(file, d) {
  if (typeof d.uid !== 'string' || !/^replywatch-[a-z-]+$/.test(d.uid)) {
    problem(file, `uid must be fixed and start with "replywatch-" (got ${JSON.stringify(d.uid)})`);
  }
  const vars = Object.fromEntries((d.templating?.list ?? []).map((v) => [v.name, v]));
  if (vars.datasource?.type !== 'datasource' || vars.datasource?.query !== 'prometheus') {
    problem(file, 'needs a "datasource" variable of type datasource for Prometheus');
  }
  for (const name of ['account', 'channel']) {
    const v = vars[name];
    if (!v || v.type !== 'query' || !v.includeAll || !v.multi) {
      problem(file, `needs a multi-value "${name}" query variable with "All"`);
    } else if (v.datasource?.uid !== '${datasource}') {
      problem(file, `variable "${name}" must query the \${datasource} data source`);
    }
  }
  const ids = new Set();
  for (const p of allPanels(d.panels)) {
    if (ids.has(p.id)) problem(file, `panel id ${p.id} is used twice`);
    ids.add(p.id);
    if (p.type === 'row') continue;
    if (!panelTypes[p.type]) {
      problem(file, `panel "${p.title}": type ${p.type} has no type check here; add it to panelTypes`);
    }
    if (p.datasource?.uid !== '${datasource}') problem(file, `panel "${p.title}" must use \${datasource}`);
    for (const t of p.targets ?? []) {
      if (t.datasource?.uid !== '${datasource}') problem(file, `panel "${p.title}" query ${t.refId} must use \${datasource}`);
      if (!t.expr) problem(file, `panel "${p.title}" query ${t.refId} has no expr`);
    }
    if (!p.targets?.length) problem(file, `panel "${p.title}" has no query`);
  }
}

// JSON has no enums: Json<T> accepts a string enum's values as plain strings.
const prelude = `
export type Json<T> = T extends string ? \`\${T}\`
  : T extends number | boolean | null | undefined ? T
  : T extends Array<infer U> ? Array<Json<U>>
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
`;

function typescriptFor(file, d) {
  const lines = [
    `// Generated from ${path.basename(file)} by check.mjs; type-checked, never run.`,
    `import type { Dashboard } from '@grafana/schema';`,
    `import type { Json } from './prelude';`,
  ];
  for (const [type, { module }] of Object.entries(panelTypes)) {
    lines.push(`import type * as ${type} from '${module}';`);
  }
  lines.push('', `export const dashboard = ${JSON.stringify(d, null, 2)} satisfies Json<Dashboard>;`);
  for (const p of allPanels(d.panels)) {
    const t = panelTypes[p.type];
    if (!t) continue;
    lines.push('', `// panel ${p.id}: ${String(p.title).replace(/\n/g, ' ')}`);
    lines.push(`export const options${p.id} = ${JSON.stringify(p.options ?? {})} satisfies Json<${p.type}.Options>;`);
    const custom = p.fieldConfig?.defaults?.custom;
    if (t.fieldConfig) {
      lines.push(`export const custom${p.id} = ${JSON.stringify(custom ?? {})} satisfies Json<${p.type}.FieldConfig>;`);
    } else if (custom !== undefined) {
      problem(file, `panel "${p.title}": a ${p.type} panel has no custom field config`);
    }
  }
  return lines.join('\n') + '\n';
}

fs.rmSync(workdir, { recursive: true, force: true });
fs.mkdirSync(workdir, { recursive: true });
fs.writeFileSync(path.join(workdir, 'prelude.ts'), prelude);
const files = dirs.flatMap((dir) =>
  fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f)));
if (files.length === 0) {
  console.error(`no dashboards found in ${dirs.join(', ')}`);
  process.exit(1);
}
const sources = [];
for (const file of files) {
  let d;
  try {
    d = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    problem(file, `not valid JSON: ${e.message}`);
    continue;
  }
  checkConventions(file, d);
  const ts = path.join(workdir, path.basename(file, '.json').replace(/[^A-Za-z0-9_]/g, '_') + '.ts');
  fs.writeFileSync(ts, typescriptFor(file, d));
  sources.push(ts);
}
fs.writeFileSync(path.join(workdir, 'tsconfig.json'), JSON.stringify({
  compilerOptions: {
    strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler',
    skipLibCheck: true, types: [], typeRoots: [],
    paths: { '@grafana/schema': [path.join(modules, '@grafana/schema')],
             '@grafana/schema/*': [path.join(modules, '@grafana/schema/*')] },
  },
  files: ['prelude.ts', ...sources.map((s) => path.basename(s))],
}, null, 2));

let typesOk = true;
try {
  execFileSync(process.execPath, [path.join(modules, 'typescript/bin/tsc'), '-p', workdir, '--pretty', 'false'],
    { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
} catch (e) {
  typesOk = false;
  console.error(`Grafana types (@grafana/schema) refused the dashboards:\n${e.stdout}${e.stderr}`);
}
for (const p of problems) console.error(p);
if (!typesOk || problems.length) process.exit(1);
fs.rmSync(workdir, { recursive: true, force: true });
console.log(`${files.length} dashboards match Grafana's dashboard and panel types: ${files.map((f) => path.basename(f)).join(', ')}`);
