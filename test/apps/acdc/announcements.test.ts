/**
 * The pure parts of position announcements: a caller's place as the manager counts it
 * (higher Member-Priority first, then arrival: the order workers take callers in), the
 * queue document's `announcements` object, and Kazoo's time prompts for the estimated wait.
 */
import { describe, expect, it } from 'vitest';
import { queuePosition } from '../../../apps/acdc/manager.ts';
import { announcementsOf, waitTimePrompt } from '../../../apps/callflow/modules/acdc-announcements.ts';

describe('acdc announcements', () => {
  it('a position counts the callers a worker takes first: higher priority, then earlier arrival', () => {
    const waiting = new Map([
      ['a', { priority: 0 }],
      ['b', { priority: 5 }],
      ['c', { priority: 0 }],
      ['d', { priority: 5 }],
      ['e', { priority: 2 }],
    ]);
    const order = ['a', 'b', 'c', 'd', 'e'].map((id) => [id, queuePosition(waiting, id)]);
    expect(Object.fromEntries(order)).toEqual({ b: 1, d: 2, e: 3, a: 4, c: 5 });
    expect(queuePosition(waiting, 'gone')).toBeUndefined();
  });

  it("the queue's announcements: off unless enabled; interval and media with Kazoo's defaults", () => {
    expect(announcementsOf({}, 'acc')).toBeUndefined();
    expect(announcementsOf({ announcements: { interval: 20 } }, 'acc')).toBeUndefined();
    const a = announcementsOf(
      { announcements: { wait_time_announcements_enabled: true, media: { in_the_queue: 'm1' } } },
      'acc',
    );
    expect(a).toEqual({
      position: false,
      waitTime: true,
      intervalMs: 30_000,
      media: {
        you_are_at_position: 'prompt://system_media/queue-you_are_at_position/en-us',
        in_the_queue: '/acc/m1',
        increase_in_call_volume: 'prompt://system_media/queue-increase_in_call_volume/en-us',
        the_estimated_wait_time_is: 'prompt://system_media/queue-the_estimated_wait_time_is/en-us',
      },
    });
  });

  it("the estimated wait's prompt, as Kazoo's time_prompt", () => {
    const name = (s: number) => waitTimePrompt(s).split('/')[3];
    expect([0, 59, 60, 300, 301, 600, 900, 1800, 2700, 3600, 3601].map(name)).toEqual([
      'queue-less_than_1_minute',
      'queue-less_than_1_minute',
      'queue-about_5_minutes',
      'queue-about_5_minutes',
      'queue-about_10_minutes',
      'queue-about_10_minutes',
      'queue-about_15_minutes',
      'queue-about_30_minutes',
      'queue-about_45_minutes',
      'queue-about_1_hour',
      'queue-at_least_1_hour',
    ]);
  });
});
