/**
 * Periodic announcements to a caller waiting in an ACDC queue (Kazoo 4.3's
 * acdc_announcements, the queue document's `announcements` object), run by acdc_member
 * beside its wait.
 *
 * Contract
 * - `announcementsOf(doc)`: undefined unless `position_announcements_enabled` or
 *   `wait_time_announcements_enabled` is true. `interval` seconds (Kazoo's default 30;
 *   fractions allowed; not positive: 30), `media` overriding each of Kazoo's prompts
 *   (`you_are_at_position`, `in_the_queue`, `increase_in_call_volume`,
 *   `the_estimated_wait_time_is`: a media id or URL; default the system prompt
 *   `queue-<name>`).
 * - `announce(call, cfg, queueId, moh, signal)`: owns the hold media while the caller waits.
 *   At once and then every `interval`: asks the queue's managers (queue_position_req,
 *   2 s) and plays, one command at a time, "you are at position" + say <n> (number,
 *   pronounced) + "in the queue" when position announcements are on, and, when wait-time
 *   announcements are on, "increase in call volume" (only when the average wait grew
 *   since the last one) + "the estimated wait time is" + Kazoo's time prompt for the
 *   average wait (`queue-less_than_1_minute` … `queue-at_least_1_hour`); then the hold
 *   media again until the next round (stopped with playstop, its end awaited). No answer:
 *   nothing is announced that round (warn line), the hold media goes on.
 * - Every wait it makes takes `signal`: once it aborts, announce resolves without sending
 *   another command (the caller of announce stops whatever media still plays). Errors end
 *   the announcements (warn line), never the wait; a hangup ends them quietly.
 */
import type { Envelope } from '../../../src/bus/index.ts';
import { HangupError, type CallHandle } from '../call.ts';
import { askQueue } from './acdc-ask.ts';
import { mediaPath } from './media.ts';
import { num } from './module.ts';
import { prompt } from './voicemail-box.ts';

const MEDIA_KEYS = [
  'you_are_at_position',
  'in_the_queue',
  'increase_in_call_volume',
  'the_estimated_wait_time_is',
] as const;
type MediaKey = (typeof MEDIA_KEYS)[number];

export interface Announcements {
  readonly position: boolean;
  readonly waitTime: boolean;
  readonly intervalMs: number;
  /** Media names as played, one per prompt. */
  readonly media: Readonly<Record<MediaKey, string>>;
}

const ASK_WAIT_MS = 2000;
const MOH_END_WAIT_MS = 5000;

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function announcementsOf(doc: Record<string, unknown>, accountId: string): Announcements | undefined {
  const a = isObj(doc.announcements) ? doc.announcements : {};
  const position = a.position_announcements_enabled === true;
  const waitTime = a.wait_time_announcements_enabled === true;
  if (!position && !waitTime) return undefined;
  const given = isObj(a.media) ? a.media : {};
  const media = Object.fromEntries(
    MEDIA_KEYS.map((k) => {
      const v = given[k];
      return [k, typeof v === 'string' && v !== '' ? mediaPath(v, accountId) : prompt(`queue-${k}`)];
    }),
  ) as Record<MediaKey, string>;
  const interval = num(a.interval, 30);
  return { position, waitTime, intervalMs: (interval > 0 ? interval : 30) * 1000, media };
}

/** Kazoo's time prompt for an estimated wait of `s` seconds. */
export function waitTimePrompt(s: number): string {
  const m = s / 60;
  const name =
    m < 1
      ? 'less_than_1_minute'
      : m <= 5
        ? 'about_5_minutes'
        : m <= 10
          ? 'about_10_minutes'
          : m <= 15
            ? 'about_15_minutes'
            : m <= 30
              ? 'about_30_minutes'
              : m <= 45
                ? 'about_45_minutes'
                : m <= 60
                  ? 'about_1_hour'
                  : 'at_least_1_hour';
  return prompt(`queue-${name}`);
}

const playDone = (m: Envelope): boolean =>
  m['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && m['Application-Name'] === 'play';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** One round's commands: [app, fields]. */
function round(
  cfg: Announcements,
  position: number,
  averageS: number,
  lastAverageS: number | undefined,
): Array<[string, Record<string, unknown>]> {
  const play = (media: string): [string, Record<string, unknown>] => ['play', { 'Media-Name': media }];
  const out: Array<[string, Record<string, unknown>]> = [];
  if (cfg.position)
    out.push(
      play(cfg.media.you_are_at_position),
      ['say', { Language: 'en', Type: 'number', Method: 'pronounced', 'Say-Text': String(position) }],
      play(cfg.media.in_the_queue),
    );
  if (cfg.waitTime) {
    if (lastAverageS !== undefined && averageS > lastAverageS)
      out.push(play(cfg.media.increase_in_call_volume));
    out.push(play(cfg.media.the_estimated_wait_time_is), play(waitTimePrompt(averageS)));
  }
  return out;
}

export async function announce(
  call: CallHandle,
  cfg: Announcements,
  queueId: string,
  moh: string,
  signal: AbortSignal,
): Promise<void> {
  let lastAverageS: number | undefined;
  try {
    for (let first = true; !signal.aborted; first = false) {
      if (!first) {
        await call.send('playstop');
        await call.nextEvent(playDone, MOH_END_WAIT_MS, signal);
      }
      const r = await askQueue(
        call,
        'queue_position_req',
        { 'Account-ID': call.info.accountId, 'Queue-ID': queueId, 'Call-ID': call.callId },
        'position_resp',
        ASK_WAIT_MS,
        signal,
      );
      if (signal.aborted) return;
      if (r === undefined)
        call.log.warn(
          { queue_id: queueId },
          'acdc_member: no queue manager told the position; not announced',
        );
      else {
        const position = Number(r.Position);
        const averageS = Number(r['Average-Wait-Time'] ?? 0);
        call.log.info(
          { queue_id: queueId, position, average_wait_s: averageS },
          'acdc_member: announcing the position',
        );
        for (const [app, fields] of round(cfg, position, averageS, lastAverageS)) {
          if (signal.aborted) return;
          await call.exec(app, fields, signal);
        }
        lastAverageS = averageS;
      }
      if (signal.aborted) return;
      await call.send('play', { 'Media-Name': moh });
      await sleep(cfg.intervalMs, signal);
    }
  } catch (err) {
    if (signal.aborted || err instanceof HangupError) return;
    call.log.warn({ err, queue_id: queueId }, 'acdc_member: announcements ended by an error');
  }
}
