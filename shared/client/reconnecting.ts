import { SHUTTING_DOWN_CODE } from '../protocol/session_end.ts';
import type { ClassifyImage } from '../protocol/messages.ts';
import { ClientError, type ImageResult, type MedclassClient } from './client.ts';

/**
 * Failures of the connection, not answers of the server: it closed under the request (the
 * instance stopped or died, the network dropped), or the server is shutting down and refused
 * it. The request may go again on a new connection; behind one address that reaches another
 * instance. The server's refusals (a bad image, a limit) are final and are not retried.
 */
export const retryElsewhere = (e: unknown): boolean => e instanceof ClientError && (e.code === SHUTTING_DOWN_CODE || e.code === 'closed');

export interface ReconnectOptions {
  /** Connection attempts per request after the first failure (default 8). */
  attempts?: number;
  /** Wait before attempt n (from 0): default 250 ms doubling, at most 4 s. */
  delayMs?(attempt: number): number;
  /** Told of each reconnect (for a line on the terminal). */
  onReconnect?(reason: string): void;
}

/**
 * A client that opens a new connection when its connection ends under it, and sends again
 * what was not answered. `open` connects and logs in: with a password the first time, after
 * that with the login's token (`resume`), so a reconnect costs no password attempt.
 */
export class ReconnectingClient {
  private current: Promise<MedclassClient> | null = null;
  private token: string | null = null;
  private closed = false;

  constructor(
    private readonly open: (token: string | null) => Promise<{ client: MedclassClient; token: string }>,
    private readonly options: ReconnectOptions = {},
  ) {}

  /** The open connection, or a new one. */
  client(): Promise<MedclassClient> {
    if (this.closed) return Promise.reject(new ClientError('closed', 'the client closed the connection'));
    this.current ??= this.open(this.token).then(
      ({ client, token }) => {
        this.token = token;
        return client;
      },
      (e: unknown) => {
        this.current = null;
        throw e;
      },
    );
    return this.current;
  }

  /** Runs `work` on the connection; when the connection fails under it, on a new one. */
  async run<T>(work: (client: MedclassClient) => Promise<T>): Promise<T> {
    const attempts = this.options.attempts ?? 8;
    const delay = this.options.delayMs ?? ((n: number) => Math.min(4000, 250 * 2 ** n));
    for (let attempt = 0; ; attempt++) {
      let used: MedclassClient | null = null;
      try {
        used = await this.client();
        return await work(used);
      } catch (e) {
        // once connected, a refused reconnection (the instance gone, no other up yet) counts like a
        // dropped connection; a server never reached is the caller's to report at once
        const connectionTrouble = retryElsewhere(e) || (used === null && this.token !== null && !(e instanceof ClientError));
        if (this.closed || !connectionTrouble || attempt >= attempts) throw e;
        if (used && this.current) {
          const stale = this.current;
          this.current = null;
          void stale.then((c) => c.close(), () => undefined);
        }
        this.options.onReconnect?.((e as Error).message);
        await new Promise((r) => setTimeout(r, delay(attempt)));
      }
    }
  }

  classify(service: string, images: ClassifyImage[]): Promise<ImageResult[]> {
    return this.run((c) => c.classify(service, images));
  }

  close(): void {
    this.closed = true;
    void this.current?.then((c) => c.close(), () => undefined);
    this.current = null;
  }
}
