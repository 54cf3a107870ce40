/**
 * reg_success responder: hands the registration to reg_server (the tables' owner, which
 * applies it in mailbox order) and resolves once reg_server says the database has it, so
 * that with after-handlers acks a registrar killed before the write gets the message
 * again from its named queue. A malformed contact or Expires is logged and dropped; a
 * failed write is logged (the registration stays in the tables). If reg_server is gone
 * (killed meanwhile) the call fails, the responder throws (logged, counted) and the
 * message, never acked, comes again to the restarted one; so does one reg_server could
 * not hand to reg_store (not running: it is being restarted).
 */
import { GenServer } from '../../src/kernel/index.ts';
import type { Envelope } from '../../src/bus/index.ts';
import type { ListenerHandlerContext } from '../../src/bus/gen-listener.ts';
import { REG_SERVER, type RegSuccessReply } from './reg-server.ts';

/** The write may wait for a batch behind a slow store: longer than a call's default. */
const WRITE_TIMEOUT_MS = 60_000;

export async function handleRegSuccess(msg: Envelope, ctx: ListenerHandlerContext): Promise<void> {
  let out: RegSuccessReply;
  try {
    out = await GenServer.call<RegSuccessReply>(
      ctx.runtime,
      REG_SERVER,
      { op: 'reg_success', msg },
      WRITE_TIMEOUT_MS,
    );
  } catch (err) {
    ctx.delivery.nack(true);
    ctx.log.warn(
      { user: msg.Username, realm: msg.Realm, err: (err as Error).message },
      'reg_success: reg_server did not take it; handed back to the queue',
    );
    return;
  }
  if (out.result !== 'rejected' && out.requeue === true) {
    ctx.delivery.nack(true);
    ctx.log.warn(
      { user: msg.Username, realm: msg.Realm, err: out.error },
      'reg_success: not written; handed back to the queue',
    );
    return;
  }
  if (out.result === 'rejected') {
    ctx.log.warn({ user: msg.Username, realm: msg.Realm, reason: out.reason }, 'reg_success rejected');
    return;
  }
  if (out.error !== undefined)
    ctx.log.error(
      { id: out.id, err: out.error },
      'reg_success: registration not written to the database (kept in the tables)',
    );
  else
    ctx.log.debug(
      { user: msg.Username, realm: msg.Realm, id: out.id, result: out.result },
      'registration written',
    );
}
