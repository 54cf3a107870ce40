/**
 * The `socket` dialplan application: FreeSWITCH's outbound event socket, where the switch
 * dials out to an application's TCP server and lets it control one call.
 *
 * Contract
 * - Argument `<host>:<port> [async] [full]` (as in a FreeSWITCH dialplan). The simulator
 *   connects to host:port and serves that connection as an outbound ESL session (see
 *   esl-session.ts): no auth; `connect` gets the channel's CHANNEL_DATA as a
 *   command/reply with `Reply-Text: %2BOK%0A`, `Socket-Mode: async|static` and
 *   `Control: full|single-channel`.
 * - The application runs while the connection is open; messages for the channel are
 *   serviced meanwhile (sendmsg executes run nested). When the application's side closes
 *   the socket, the dialplan has nothing left and the call hangs up (NORMAL_CLEARING);
 *   when the call hangs up first, the connection gets the disconnect notice (or, with
 *   `linger`, stays open for the last events).
 * - If the connection cannot be made, a warning is logged and the call hangs up, as a
 *   dialplan with nothing after `socket` does.
 * - Static mode is reported as asked, but sendmsg replies at once in both modes (a
 *   documented difference: FreeSWITCH answers a static-mode execute when it completes).
 */
import { connect, type Socket } from 'node:net';
import type { Application } from './apps.ts';
import type { Channel } from './channel.ts';
import type { OutboundOptions } from './esl-session.ts';
import { urlEncode } from './esl-wire.ts';
import type { EventFactory } from './event-factory.ts';

export interface OutboundHost {
  readonly events: EventFactory;
  /** Serves `socket` as an outbound ESL session for the channel. */
  serveOutbound(socket: Socket, opts: OutboundOptions): void;
}

export function channelDataReply(events: EventFactory, ch: Channel, mode: string, control: string): Buffer {
  const ev = events.make('CHANNEL_DATA', { channel: ch, callingFunction: 'parse_command' });
  let head = '';
  for (const [k, v] of ev.headers) head += `${k}: ${urlEncode(v)}\n`;
  return Buffer.from(
    `${head}Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: ${mode}\nControl: ${control}\n\n`,
    'utf8',
  );
}

function dial(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const onAbort = (): void => {
      socket.destroy();
      reject(new Error('call hung up while connecting'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
  });
}

export function createSocketApp(host: OutboundHost): Application {
  return async (ctx) => {
    const [target = '', ...flags] = ctx.arg.trim().split(/\s+/);
    const colon = target.lastIndexOf(':');
    const addr = colon === -1 ? target : target.slice(0, colon);
    const port = Number(colon === -1 ? '8084' : target.slice(colon + 1));
    const mode = flags.includes('async') ? 'async' : 'static';
    const control = flags.includes('full') ? 'full' : 'single-channel';
    let socket: Socket;
    try {
      socket = await dial(addr, port, ctx.signal);
    } catch (err) {
      ctx.log.warn(
        { target, err: err instanceof Error ? err.message : String(err) },
        'socket application could not connect',
      );
      if (!ctx.ch.isHungUp) ctx.model.hangup(ctx.ch, 'NORMAL_CLEARING');
      return '_none_';
    }
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    host.serveOutbound(socket, {
      uuid: ctx.ch.uuid,
      connectReply: () => channelDataReply(host.events, ctx.ch, mode, control),
    });
    const aborted = new Promise<void>((resolve) =>
      ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    await Promise.race([closed, aborted]);
    if (!ctx.ch.isHungUp) ctx.model.hangup(ctx.ch, 'NORMAL_CLEARING');
    return '_none_';
  };
}
