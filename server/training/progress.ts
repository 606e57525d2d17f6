import { SingleBar } from 'cli-progress';

/** Progress on standard error: a bar on a terminal, a few plain lines otherwise. Never on stdout. */
export interface Progress {
  update(label: string, done: number, total: number): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { update() {}, stop() {} };
  if (stream.isTTY) {
    let bar: SingleBar | null = null;
    let current = '';
    return {
      update(label, done, total) {
        if (label !== current || !bar) {
          bar?.stop();
          current = label;
          bar = new SingleBar({ stream, format: `${label.padEnd(22)} [{bar}] {value}/{total} {percentage}% | {duration_formatted}`, hideCursor: true, clearOnComplete: false });
          bar.start(total, done);
        } else {
          bar.setTotal(total);
          bar.update(done);
        }
      },
      stop() {
        bar?.stop();
        bar = null;
      },
    };
  }
  // Not a terminal: the start, every quarter and the end of each stage.
  let current = '';
  let lastQuarter = -1;
  return {
    update(label, done, total) {
      const quarter = total > 0 ? Math.floor((4 * done) / total) : 4;
      if (label === current && quarter === lastQuarter) return;
      if (label !== current) lastQuarter = -1;
      current = label;
      lastQuarter = quarter;
      stream.write(`medclass: ${label}: ${done}/${total}\n`);
    },
    stop() {},
  };
}
