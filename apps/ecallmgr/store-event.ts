/**
 * The call event of a `store` command (Kazoo's ecallmgr_call_command send_store_call_event).
 *
 * Contract — `storeEventFields(callId, file, outcome)`: the fields of the
 * CHANNEL_EXECUTE_COMPLETE that tells the app how the upload of `file` went:
 * Application-Name `store`, Application-Response `success` when the switch answered
 * `+OK`, else `failure` (Kazoo's values), Application-Data = the file. `outcome` is the
 * background job's answer or the error it failed with. Pure.
 */
import { EslCommandError } from '../../src/switch/index.ts';

export function storeEventFields(
  callId: string,
  file: string,
  outcome: { reply?: string; error?: unknown },
): Record<string, unknown> {
  const ok = outcome.error === undefined && (outcome.reply ?? '').startsWith('+OK');
  return {
    'Event-Name': 'CHANNEL_EXECUTE_COMPLETE',
    'Call-ID': callId,
    'Application-Name': 'store',
    'Application-Response': ok ? 'success' : 'failure',
    'Application-Data': file,
  };
}

/** Why an upload failed, for the log line. */
export const storeFailure = (outcome: { reply?: string; error?: unknown }): string =>
  outcome.error instanceof EslCommandError
    ? outcome.error.reply.trim()
    : outcome.error !== undefined
      ? String(outcome.error)
      : (outcome.reply ?? '').trim();
