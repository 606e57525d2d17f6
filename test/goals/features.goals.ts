/**
 * npm run goals:features: issue 13's goals (and issue 14's for the best of --auto), measured
 * as a user would. For BreastMNIST and RetinaMNIST it runs `medclass train <set> --auto`
 * (budget GOALS_BUDGET, 120s by default: the feature search alone; 5m or more brings in the
 * CNN and the ensemble; GOALS_ARGS adds options; GOALS_SETS=breastmnist picks sets), then
 * `medclass evaluate <model> <set>/test --json`, and prints the test AUC and accuracy against
 * the goals. Exit status 0 whatever the figures: it measures, it does not gate.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../server/paths.ts';
import { dataset, type DatasetName } from '../golden.ts';

const ALL_GOALS: { name: DatasetName; label: string; auc: number; acc: number; cnnAuc: number; cnnAcc: number; today: string; autoSklearn: string }[] = [
  { name: 'breastmnist', label: 'BreastMNIST', auc: 0.87, acc: 0.86, cnnAuc: 0.9, cnnAcc: 0.87, today: '0.813 / 0.808', autoSklearn: '0.836 / 0.803' },
  { name: 'retinamnist', label: 'RetinaMNIST', auc: 0.7, acc: 0.52, cnnAuc: 0.73, cnnAcc: 0.53, today: '0.657 / 0.495', autoSklearn: '0.690 / 0.515' },
];
const wanted = (process.env['GOALS_SETS'] ?? '').split(',').filter(Boolean);
const GOALS = ALL_GOALS.filter((g) => wanted.length === 0 || wanted.includes(g.name));
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
    const report = train.stdout.split('\n').filter((l) => /^(--auto|chosen|class weights|decision|features|model|CNN|finalists|ensemble|threshold)\b/.test(l));
    console.log(`${g.label}: train --auto in ${seconds.toFixed(0)} s (load average now ${loadavg().map((v) => v.toFixed(1)).join(' ')})\n  ${report.join('\n  ')}\n`);
    const evaluated = medclass('evaluate', out, join(dataset(g.name), 'test'), '--json');
    if (evaluated.status !== 0) throw new Error(`evaluate ${g.name} failed: ${evaluated.stderr}`);
    const m = JSON.parse(evaluated.stdout) as { auc: number; accuracy: number; balancedAccuracy: number };
    const model = JSON.parse(readFileSync(out, 'utf8'));
    const w = model.training.auto.winner;
    const pass = (v: number, goal: number, digits = 3) => `${v.toFixed(digits)} ${v >= goal ? '(met)' : `(goal ${goal.toFixed(2)})`}`;
    const met = (auc: number, acc: number) => (m.auc >= auc && m.accuracy >= acc ? 'met' : 'not met');
    const cnn = model.training.auto.cnn as { chosen?: string; skipped?: string; ensembleMember?: string } | undefined;
    const winner = `${w.set} @ ${w.size || 'kept'}, ${w.name}`;
    const chosen = cnn?.chosen === 'CNN' ? 'CNN' : cnn?.chosen === 'ensemble' ? `ensemble of ${cnn.ensembleMember ?? winner} + CNN` : winner;
    rows.push([
      g.label,
      g.today,
      `${g.auc.toFixed(2)} / ${g.acc.toFixed(2)}: ${met(g.auc, g.acc)}`,
      `${g.cnnAuc.toFixed(2)} / ${g.cnnAcc.toFixed(2)}: ${met(g.cnnAuc, g.cnnAcc)}`,
      pass(m.auc, g.auc, 4),
      pass(m.accuracy, g.acc),
      m.balancedAccuracy.toFixed(3),
      cnn?.skipped ? `${chosen} (CNN not tried)` : chosen,
      `${seconds.toFixed(0)} s`,
    ]);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const header = ['set', 'today (RBF, size 0)', 'issue 13 goal', 'issue 14 goal', 'test AUC', 'test ACC', 'test bal. acc.', 'chosen', 'train time'];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
for (const r of [header, ...rows]) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
console.log(`\nload average after: ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
