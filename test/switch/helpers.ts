/**
 * Test helpers for the switch layer: a simulator on an ephemeral loopback port, a raw
 * socket client that reads ESL frames, a modesl inbound connection, and waiting on events
 * (never on sleeps).
 */
import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { Connection, Event as ModeslEvent } from 'modesl';
import { createRootLogger, memoryLogger, type Logger } from '../../src/kernel/log.ts';
import { Switch, type SwitchOptions } from '../../src/switch/switch.ts';
import { EslParser, parseEventBody, type EslFrame } from '../../src/switch/esl-parser.ts';
import type { SwitchEvent } from '../../src/switch/esl-wire.ts';

export const modesl = createRequire(import.meta.url)('modesl') as typeof import('modesl');

export async function startSwitch(
  opts: SwitchOptions = {},
): Promise<{ sw: Switch; lines: Array<Record<string, unknown>> }> {
  const { logger, lines } = memoryLogger('switch-test@localhost', 'debug');
  const sw = await Switch.start({ port: 0, logger, media: { playbackMs: 30, recordMaxMs: 200 }, ...opts });
  return { sw, lines };
}

export function header(frame: EslFrame, name: string): string | undefined {
  return frame.headers.find(([k]) => k === name)?.[1];
}

/** A plain TCP client that collects the frames the switch sends. */
export class RawClient {
  readonly frames: EslFrame[] = [];
  private readonly parser = new EslParser({ mode: 'stream' });
  private waiters: Array<() => void> = [];
  closed = false;
  private readonly consumed = new Set<number>();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.frames.push(...this.parser.push(chunk));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Opens, reads auth/request, authenticates. */
  static async authed(port: number, password = 'ClueCon'): Promise<RawClient> {
    const c = await RawClient.open(port);
    await c.next();
    c.send(`auth ${password}\n\n`);
    await c.next();
    return c;
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The first frame not yet consumed that matches (default: any); others stay for later. */
  async next(match: (f: EslFrame) => boolean = () => true): Promise<EslFrame> {
    for (;;) {
      for (let i = 0; i < this.frames.length; i++) {
        const f = this.frames[i] as EslFrame;
        if (!this.consumed.has(i) && match(f)) {
          this.consumed.add(i);
          return f;
        }
      }
      if (this.closed) throw new Error('connection closed while waiting for a frame');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Next reply (command/reply or api/response), skipping events. */
  reply(): Promise<EslFrame> {
    return this.next((f) => ['command/reply', 'api/response'].includes(header(f, 'Content-Type') ?? ''));
  }

  /** Next event frame with that Event-Name; returns its decoded headers. */
  async event(name: string): Promise<{ headers: Map<string, string>; body?: string }> {
    const f = await this.next((fr) => {
      const ev = eventOf(fr);
      return ev?.headers.get('Event-Name') === name;
    });
    return eventOf(f) as { headers: Map<string, string>; body?: string };
  }

  whenClosed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.socket.once('close', () => resolve());
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export function eventOf(f: EslFrame): { headers: Map<string, string>; body?: string } | undefined {
  const type = header(f, 'Content-Type');
  if (type !== 'text/event-plain' && type !== 'text/event-json') return undefined;
  const ev = parseEventBody(f);
  return ev === undefined ? undefined : { headers: new Map(ev.headers), body: ev.body };
}

/** A modesl inbound connection, resolved once ready (authenticated). */
export function modeslConnect(port: number, password = 'ClueCon'): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const conn = new modesl.Connection('127.0.0.1', port, password, () => resolve(conn));
    conn.on('error', (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))));
  });
}

export function modeslClose(conn: Connection): Promise<void> {
  const s = conn.socket;
  if (s === null || s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    s.once('close', () => resolve());
    conn.disconnect();
  });
}

/** Resolves with the first simulator event matching. */
export function nextSimEvent(sw: Switch, match: (ev: SwitchEvent) => boolean): Promise<SwitchEvent> {
  return new Promise((resolve) => {
    const off = sw.onEvent((ev) => {
      if (match(ev)) {
        off();
        resolve(ev);
      }
    });
  });
}

/** Collects every event of the next channel created, until its CHANNEL_DESTROY. */
export function recordNextCall(sw: Switch): Promise<SwitchEvent[]> {
  const seen: SwitchEvent[] = [];
  let uuid: string | undefined;
  return new Promise((resolve) => {
    const off = sw.onEvent((ev) => {
      if (uuid === undefined && ev.name === 'CHANNEL_CREATE') uuid = ev.uuid;
      if (ev.uuid === undefined || ev.uuid !== uuid) return;
      seen.push(ev);
      if (ev.name === 'CHANNEL_DESTROY') {
        off();
        resolve(seen);
      }
    });
  });
}

export function modeslEvent(conn: Connection, name: string): Promise<ModeslEvent> {
  return new Promise((resolve) => conn.once(name, (ev: ModeslEvent) => resolve(ev)));
}

export const hdr = (ev: SwitchEvent, name: string): string | undefined =>
  ev.headers.find(([k]) => k === name)?.[1];

/** A logger whose lines can be awaited: waitFor(pred) resolves when a matching line is written. */
export function watchedLogger(): {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  waitFor(pred: (l: Record<string, unknown>) => boolean, count?: number): Promise<void>;
} {
  const lines: Array<Record<string, unknown>> = [];
  let waiters: Array<() => void> = [];
  const destination = {
    write: (s: string): void => {
      lines.push(JSON.parse(s) as Record<string, unknown>);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
  };
  const logger = createRootLogger({ node: 'switch-test@localhost', level: 'debug', destination });
  const waitFor = async (pred: (l: Record<string, unknown>) => boolean, count = 1): Promise<void> => {
    while (lines.filter(pred).length < count) await new Promise<void>((r) => waiters.push(r));
  };
  return { logger, lines, waitFor };
}
