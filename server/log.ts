import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/**
 * The server's log: JSON lines on stderr. Callers pass ids, codes, counts and timings only;
 * never image bytes, file names, tokens or anything a patient could be known by. The
 * redaction below is a second net for the fields that must never appear.
 */
export function createLogger(level = process.env['MEDCLASS_LOG_LEVEL'] ?? 'info'): Logger {
  return pino(
    { level, base: null, redact: { paths: ['token', 'password', '*.token', '*.password', 'data', '*.data', 'pixels', 'vector'], censor: '[redacted]' } },
    pino.destination(2),
  );
}
