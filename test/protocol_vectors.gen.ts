/**
 * Writes docs/protocol-vectors.json (`npm run vectors`). The inputs and the signature of an
 * existing file are kept, so the file only changes when the protocol does; with --new, fresh
 * keys are drawn.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { computeVectors, newInputs, type Vectors } from './protocol_vectors.ts';
import { VECTORS_FILE_PATH as VECTORS_FILE } from './protocol_vectors_file.ts';

const old = existsSync(VECTORS_FILE) && !process.argv.includes('--new') ? (JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as Vectors) : null;
const vectors = await computeVectors(old?.inputs ?? (await newInputs()), old?.signature ?? null);
writeFileSync(VECTORS_FILE, `${JSON.stringify(vectors, null, 2)}\n`);
process.stdout.write(`wrote ${VECTORS_FILE}\n`);
