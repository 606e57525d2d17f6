/**
 * npm run goals:features: issue 13's goals, measured as a user would. For BreastMNIST and
 * RetinaMNIST it runs `medclass train <set> --auto` (budget GOALS_BUDGET, 120s by default;
 * GOALS_ARGS adds options), then `medclass evaluate <model> <set>/test --json`, and prints
 * the test AUC and accuracy against the goals. Exit status 0 whatever the figures: it
 * measures, it does not gate.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../server/paths.ts';
import { dataset, type DatasetName } from '../golden.ts';

const GOALS: { name: DatasetName; label: string; auc: number; acc: number; today: string; autoSklearn: string }[] = [
  { name: 'breastmnist', label: 'BreastMNIST', auc: 0.87, acc: 0.86, today: '0.813 / 0.808', autoSklearn: '0.836 / 0.803' },
  { name: 'retinamnist', label: 'RetinaMNIST', auc: 0.7, acc: 0.52, today: '0.657 / 0.495', autoSklearn: '0.690 / 0.515' },
];
const budget = process.env['GOALS_BUDGET'] ?? '120s';
const extra = (process.env['GOALS_ARGS'] ?? '').split(/\s+/).filter(Boolean);
const medclass = (...args: string[]) => spawnSync(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });

const tmp = mkdtempSync(join(tmpdir(), 'medclass-goals-'));
const rows: string[][] = [];
try {
  console.log(`load average before: ${loadavg().map((v) => v.toFixed(1)).join(' ')}; budget ${budget}${extra.length ? `; ${extra.join(' ')}` : ''}\n`);
  for (const g of GOALS) {
    const out = join(tmp, `${g.name}.json`);
    const started = performance.now();
    const train = medclass('train', dataset(g.name), '--auto', '--budget', budget, ...extra, '--out', out);
    const seconds = (performance.now() - started) / 1000;
    if (train.status !== 0) throw new Error(`train ${g.name} failed: ${train.stderr}`);
    const report = train.stdout.split('\n').filter((l) => /^(--auto|chosen|class weights|decision|features|model)\b/.test(l));
    console.log(`${g.label}: train --auto in ${seconds.toFixed(0)} s\n  ${report.join('\n  ')}\n`);
    const evaluated = medclass('evaluate', out, join(dataset(g.name), 'test'), '--json');
    if (evaluated.status !== 0) throw new Error(`evaluate ${g.name} failed: ${evaluated.stderr}`);
    const m = JSON.parse(evaluated.stdout) as { auc: number; accuracy: number; balancedAccuracy: number };
    const model = JSON.parse(readFileSync(out, 'utf8'));
    const w = model.training.auto.winner;
    const pass = (v: number, goal: number) => `${v.toFixed(3)} ${v >= goal ? '(met)' : `(goal ${goal.toFixed(2)})`}`;
    rows.push([g.label, g.today, g.autoSklearn, `${g.auc.toFixed(2)} / ${g.acc.toFixed(2)}`, pass(m.auc, g.auc), pass(m.accuracy, g.acc), m.balancedAccuracy.toFixed(3), `${w.set} @ ${w.size || 'kept'}, ${w.name}`, `${seconds.toFixed(0)} s`]);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const header = ['set', 'today (RBF, size 0)', 'auto-sklearn', 'goal AUC / ACC', 'test AUC', 'test ACC', 'test bal. acc.', 'chosen', 'train time'];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
for (const r of [header, ...rows]) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
console.log(`\nload average after: ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
