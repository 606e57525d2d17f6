import { readFile } from 'node:fs/promises';
import type { ImageResult } from '../../shared/client/client.ts';
import { errorMessage } from '../../shared/errors.ts';
import { IMAGE_MODES, type ImageMode } from '../../shared/protocol/messages.ts';
import { prepareForService } from '../client/prepare.ts';
import { connectAndAuthenticate, connectReconnecting, type ConnectionOptions } from '../client/connect.ts';
import { asCliError, CliError } from './cli_error.ts';
import { collectFiles } from '../files/image_files.ts';

interface ClassifyOptions extends ConnectionOptions {
  service: string;
  mode?: ImageMode;
  json?: boolean;
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

export async function classifyCommand(paths: string[], o: ClassifyOptions): Promise<void> {
  const files = await collectFiles(paths);
  // an instance that shuts down or dies under the run hands its images to another
  const client = await asCliError(connectReconnecting(o, (reason) => process.stderr.write(`medclass: reconnecting to ${o.server} (${reason})\n`)));
  let failures = 0;
  try {
    const service = (await asCliError(client.run((c) => c.listServices()))).find((s) => s.name === o.service);
    if (!service) throw new CliError(`no service named ${o.service} on ${o.server}`);
    if (o.mode !== undefined && !(IMAGE_MODES as readonly string[]).includes(o.mode)) throw new CliError(`--mode takes ${IMAGE_MODES.join(', ')}; got ${o.mode}`);
    const accepted = (['reduced', 'features', 'original'] as const).filter((m) => service.privacyModes.includes(m));
    const mode = o.mode ?? accepted[0];
    if (!mode || !service.privacyModes.includes(mode)) {
      throw new CliError(`service ${service.name} does not accept ${mode ?? 'any'} images (it accepts ${accepted.join(', ') || 'none: it runs on devices only'})`);
    }
    for (const file of files) {
      const started = performance.now();
      let result: ImageResult;
      let sent: string | undefined;
      try {
        if (file.missing) throw new Error(file.missing);
        const image = await prepareForService(new Uint8Array(await readFile(file.path)), mode, service);
        sent = image.mode;
        [result] = (await client.classify(service.name, [image])) as [ImageResult];
      } catch (e) {
        result = { ok: false, code: 'clientError', message: errorMessage(e) };
      }
      const roundTripMs = performance.now() - started;
      if (!result.ok) failures++;
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ file: file.name, mode: sent ?? mode, ...result, roundTripMs })}\n`);
      } else if (result.ok) {
        const t = result.timings;
        const scores = Object.entries(result.scores).map(([l, s]) => `${l} ${s.toFixed(3)}`).join(', ');
        process.stdout.write(
          `${file.name}: ${result.label} (${scores}) model v${result.modelVersion}; ` +
            `server decrypt ${ms(t.decryptMs)}, decode ${ms(t.decodeMs)}, extract ${ms(t.extractMs)}, classify ${ms(t.classifyMs)}; round trip ${ms(roundTripMs)}\n`,
        );
      } else process.stdout.write(`${file.name}: error ${result.code}: ${result.message}\n`);
    }
  } finally {
    client.close();
  }
  if (failures === files.length) process.exitCode = 1;
}

export async function servicesCommand(o: ConnectionOptions & { json?: boolean }): Promise<void> {
  const client = await asCliError(connectAndAuthenticate(o));
  try {
    const services = await asCliError(client.listServices());
    if (o.json) process.stdout.write(`${JSON.stringify(services)}\n`);
    else {
      for (const s of services) {
        process.stdout.write(`${s.name} v${s.version}: ${s.description || '(no description)'}\n  labels ${s.labels.join(', ')}; accepts ${s.privacyModes.join(', ')}; size ${s.spec.size}\n`);
      }
    }
  } finally {
    client.close();
  }
}
