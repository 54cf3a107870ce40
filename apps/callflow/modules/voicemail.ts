/**
 * cf_voicemail (Kazoo 4.3): `{"module":"voicemail","data":{"id":<vmbox id>,"action":
 * "compose"|"check"}}`, action `compose` by default.
 *
 * compose: answer; the box's `media.unavailable` greeting (else the default prompt;
 * none with `skip_greeting`), the record prompt and Kazoo's tone (`tones`: 440 Hz, 500 ms
 * on, 100 ms off); `record` to
 * `/tmp/<attachment>` with the box's `max_message_length`; at RECORD_STOP (the time limit,
 * `#`, or the caller hanging up) a message of at least `min_message_size` ms is handed to
 * callflow_vm_store (voicemail-store.ts), which stores the document in the MODB and has
 * the switch upload the file; a shorter one is logged and dropped. The handoff is
 * synchronous after RECORD_STOP, so a caller who hung up still leaves the message.
 *
 * check: answer; the PIN (`pin` of the box, `max_login_attempts` tries, `vm-fail_auth`
 * after a wrong one, `vm-abort` and hang-up after the last); `vm-you_have`, the count of
 * new messages (`say`, type messages, pronounced), `vm-new_message(s)`, then each new message, oldest first, played from its media_mgr URL and
 * moved to folder `saved` once played; after each, `7` deletes it (folder `deleted`),
 * `2` plays it again, anything else (or nothing) goes to the next.
 *
 * A missing box, a document that is not a vmbox, or a box without a PIN (check) is the
 * `error` result: the error prompt and the hang-up.
 */
import { randomBytes } from 'node:crypto';
import type { CallHandle } from '../call.ts';
import { vmMessages, vmSetFolder, vmStoreMessage } from '../voicemail-store.ts';
import { mediaPath } from './media.ts';
import { STOP, firstProblem, optString, reqString, type CfModule, type Result } from './module.ts';
import { collectDigits, loadBox, prompt, type VmBox } from './voicemail-box.ts';

/** The beep before the recording: Kazoo's cf_voicemail record_voicemail tone. */
export const TONE = { Frequencies: ['440'], 'Duration-ON': '500', 'Duration-OFF': '100' };

function runtimeOf(call: CallHandle) {
  if (call.runtime === undefined) throw new Error('voicemail needs the node runtime in the call handle');
  return call.runtime;
}

async function compose(box: VmBox, call: CallHandle): Promise<Result> {
  const rt = runtimeOf(call);
  await call.exec('answer');
  if (!box.skipGreeting)
    await call.exec('play', {
      'Media-Name':
        box.unavailable !== undefined
          ? mediaPath(box.unavailable, call.info.accountId)
          : prompt('vm-not_available'),
    });
  await call.exec('play', { 'Media-Name': prompt('vm-record_message') });
  await call.exec('tones', { Tones: [TONE] });
  const attachment = `voicemail_${randomBytes(8).toString('hex')}.wav`;
  const file = `/tmp/${attachment}`;
  await call.send('record', { 'Media-Name': file, 'Time-Limit': String(box.maxLengthS) });
  const stop = await call.nextEvent(
    (m) => m['Event-Name'] === 'RECORD_STOP' && m['Application-Response'] === file,
  );
  if (stop === 'timeout') return STOP;
  // From here to the handoff nothing awaits: the caller may already be gone.
  const lengthMs = Number(stop.Length ?? 0);
  if (!(lengthMs >= box.minLengthMs)) {
    call.log.info(
      { box: box.id, length: lengthMs, min: box.minLengthMs },
      'voicemail: message too short; not stored',
    );
    return STOP;
  }
  vmStoreMessage(rt, {
    accountId: call.info.accountId,
    boxId: box.id,
    node: String(stop['Switch-Nodename'] ?? ''),
    file,
    attachment,
    lengthMs,
    callId: call.callId,
    from: `${call.info.callerIdNumber ?? ''}`,
    to: call.info.number,
    callerIdNumber: call.info.callerIdNumber,
    callerIdName: call.info.callerIdName,
  });
  call.log.info({ box: box.id, length: lengthMs }, 'voicemail: message recorded');
  if (!call.aborted) await call.exec('play', { 'Media-Name': prompt('vm-saved') });
  return STOP;
}

const DIGITS = { timeoutMs: 5000, interdigitMs: 2000 };

async function login(box: VmBox, call: CallHandle): Promise<boolean> {
  for (let attempt = 1; attempt <= box.loginAttempts; attempt++) {
    const pin = await collectDigits(call, prompt('vm-enter_pass'), { max: 12, ...DIGITS });
    if (pin === box.pin) return true;
    call.log.info({ box: box.id, attempt }, 'voicemail: wrong PIN');
    await call.exec('play', { 'Media-Name': prompt('vm-fail_auth') });
  }
  return false;
}

async function check(box: VmBox, call: CallHandle): Promise<Result> {
  const rt = runtimeOf(call);
  await call.exec('answer');
  if (!(await login(box, call))) {
    call.log.info({ box: box.id }, 'voicemail: too many wrong PINs; hanging up');
    await call.exec('play', { 'Media-Name': prompt('vm-abort') });
    return STOP;
  }
  const fresh = (await vmMessages(rt, call.info.accountId, box.id)).filter(
    (m) => m.metadata.folder === 'new',
  );
  call.log.info({ box: box.id, new: fresh.length }, 'voicemail: logged in');
  await call.exec('play', { 'Media-Name': prompt('vm-you_have') });
  await call.exec('say', {
    Language: 'en',
    Type: 'messages',
    Method: 'pronounced',
    'Say-Text': String(fresh.length),
  });
  await call.exec('play', {
    'Media-Name': prompt(fresh.length === 1 ? 'vm-new_message' : 'vm-new_messages'),
  });
  for (const m of fresh) {
    let key = '2';
    while (key === '2') {
      const done = await call.exec('play', { 'Media-Name': m.url });
      if (m.metadata.folder === 'new' && done['Application-Response'] === 'FILE PLAYED') {
        await vmSetFolder(rt, m.db, m.id, 'saved');
        m.metadata.folder = 'saved';
      }
      key = await collectDigits(call, prompt('vm-message_menu'), { max: 1, ...DIGITS });
    }
    if (key === '7') {
      await vmSetFolder(rt, m.db, m.id, 'deleted');
      await call.exec('play', { 'Media-Name': prompt('vm-deleted') });
    }
  }
  await call.exec('play', { 'Media-Name': prompt('vm-no_more_messages') });
  return STOP;
}

export const voicemail: CfModule = {
  name: 'voicemail',
  check: (d) =>
    firstProblem(
      reqString(d, 'id'),
      optString(d, 'action'),
      d.action === undefined || d.action === 'compose' || d.action === 'check'
        ? undefined
        : `action must be compose or check, got ${String(d.action)}`,
    ),
  async run(data, call) {
    const box = await loadBox(call, String(data.id));
    if (typeof box === 'string') return { kind: 'error', reason: box };
    if (data.action === 'check') {
      if (box.pin === undefined) return { kind: 'error', reason: `vmbox ${box.id} has no pin` };
      return check(box, call);
    }
    return compose(box, call);
  },
};
