/**
 * A node's memory over a soak: sampled from its /metrics, summed up as a trend.
 *
 * Why not two points. A node's RSS right after it started and at the end of a 2-minute
 * run mostly shows warm-up (code compiled by V8 as the paths are first taken, pools and
 * caches filled, the heap grown to its working size), and V8's heap used at any instant
 * includes garbage not yet collected, so two samples say little about a leak. The soak
 * therefore:
 * - samples every node every SAMPLE_MS (`MemorySampler`): RSS
 *   (process_resident_memory_bytes), V8 heap used (nodejs_heap_size_used_bytes), the
 *   node's processes (fife_processes) and registrations (fife_registrations);
 * - leaves out a warm-up, `warmupMs(runMs)`: a quarter of the run, at most 5 minutes
 *   (30 s of a 2-minute run, 5 minutes of a 30-minute one), printed as such;
 * - per minute after the warm-up, takes the lowest heap used of the minute (the "heap
 *   floor": what was left after the minute's collections, near the live heap a forced GC
 *   would leave) and the last RSS of the minute;
 * - answers (`memoryTrend`) the RSS at the start (first sample), after the warm-up and at
 *   the end of the load, the change from after the warm-up to the end, and least-squares
 *   slopes in MB per minute of the RSS and of the heap floor over the minutes after the
 *   warm-up. Memory is flat when the slope times the minutes measured grows by no more
 *   than 10 % of the level after the warm-up (a falling RSS, the collector settling after
 *   the warm-up's peak, is no leak); a slope that stays positive minute after minute is
 *   growth whatever the two end points say.
 * The soak's phones are a steady pool (re-registering from new Contacts), so each node's
 * registrations level off once the pool has registered; their count is printed beside the
 * memory.
 */
import type { ClusterNode } from '../../test/support/cluster.ts';

export const SAMPLE_MS = 5000;

export const warmupMs = (runMs: number): number => Math.min(5 * 60_000, runMs / 4);

export interface MemorySample {
  /** ms since the load started */
  t: number;
  rssMb: number;
  heapMb: number;
  processes: number;
  registrations: number;
}

const MB = 1024 * 1024;

/** One metric's value (summed over its label sets) from a Prometheus exposition. */
export function metricValue(text: string, name: string): number | undefined {
  let sum: number | undefined;
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? ([-+0-9.eE]+)$`, 'gm');
  for (const m of text.matchAll(re)) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}

export async function sampleNode(n: ClusterNode, t: number): Promise<MemorySample> {
  const text = await (await fetch(`${n.admin}/metrics`)).text();
  const rss = metricValue(text, 'process_resident_memory_bytes');
  const heap = metricValue(text, 'nodejs_heap_size_used_bytes');
  if (rss === undefined || heap === undefined)
    throw new Error(`${n.name}: no process_resident_memory_bytes or nodejs_heap_size_used_bytes in /metrics`);
  return {
    t,
    rssMb: rss / MB,
    heapMb: heap / MB,
    processes: metricValue(text, 'fife_processes') ?? 0,
    registrations: metricValue(text, 'fife_registrations') ?? 0,
  };
}

/** Samples each node every SAMPLE_MS from `start()` until `stop()` (which takes a last one). */
export class MemorySampler {
  readonly samples: MemorySample[][];
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private pending: Promise<void> = Promise.resolve();
  private loggedMinute = 0;

  constructor(
    private readonly nodes: ClusterNode[],
    private readonly log: (s: string) => void,
  ) {
    this.samples = nodes.map(() => []);
  }

  async start(): Promise<void> {
    this.t0 = Date.now();
    await this.sample();
    this.timer = setInterval(() => void this.sample(), SAMPLE_MS);
  }

  private sample(): Promise<void> {
    const t = Date.now() - this.t0;
    this.pending = Promise.all(
      this.nodes.map((n, i) =>
        sampleNode(n, t).then(
          (s) => void this.samples[i]!.push(s),
          // a node busy restarting an app still answers; one that does not is named, the run goes on
          (err: Error) => this.log(`soak: memory sample of ${n.name} at ${t} ms: ${err.message}`),
        ),
      ),
    ).then(() => {
      const minute = Math.floor(t / 60_000);
      if (minute > this.loggedMinute && this.samples.every((ss) => ss.length > 0)) {
        this.loggedMinute = minute;
        this.log(
          `soak: minute ${minute}: ${this.nodes
            .map((n, i) => {
              const s = this.samples[i]!.at(-1)!;
              return `${n.name} RSS ${s.rssMb.toFixed(0)} MB heap ${s.heapMb.toFixed(0)} MB`;
            })
            .join(', ')}`,
        );
      }
    });
    return this.pending;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pending;
    await this.sample();
  }
}

export interface MemoryTrend {
  node: string;
  warmupMin: number;
  /** minutes measured after the warm-up */
  minutes: number;
  rss: { startMb: number; afterWarmupMb: number; endMb: number; change: number; slopeMbPerMin: number };
  heapFloor: { afterWarmupMb: number; endMb: number; change: number; slopeMbPerMin: number };
  /** the RSS and heap floor per minute after the warm-up */
  perMinute: Array<{ minute: number; rssMb: number; heapFloorMb: number; registrations: number }>;
  flat: boolean;
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const sxy = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

export function memoryTrend(node: string, samples: MemorySample[], runMs: number): MemoryTrend {
  if (samples.length === 0) throw new Error(`${node}: no memory sample`);
  const warm = warmupMs(runMs);
  const after = samples.filter((s) => s.t >= warm);
  const measured = after.length > 0 ? after : samples.slice(-1);
  const byMinute = new Map<number, MemorySample[]>();
  for (const s of measured) {
    const m = Math.floor((s.t - warm) / 60_000);
    byMinute.set(m, [...(byMinute.get(m) ?? []), s]);
  }
  const perMinute = [...byMinute].map(([minute, ss]) => ({
    minute,
    rssMb: ss.at(-1)!.rssMb,
    heapFloorMb: Math.min(...ss.map((s) => s.heapMb)),
    registrations: ss.at(-1)!.registrations,
  }));
  const first = measured[0]!;
  const last = measured.at(-1)!;
  const minutes = (last.t - first.t) / 60_000;
  const rssSlope = slope(measured.map((s) => [(s.t - warm) / 60_000, s.rssMb]));
  const floorSlope = slope(perMinute.map((p) => [p.minute + 0.5, p.heapFloorMb]));
  const floorFirst = perMinute[0]!.heapFloorMb;
  const floorLast = perMinute.at(-1)!.heapFloorMb;
  return {
    node,
    warmupMin: warm / 60_000,
    minutes,
    rss: {
      startMb: samples[0]!.rssMb,
      afterWarmupMb: first.rssMb,
      endMb: last.rssMb,
      change: last.rssMb / first.rssMb - 1,
      slopeMbPerMin: rssSlope,
    },
    heapFloor: {
      afterWarmupMb: floorFirst,
      endMb: floorLast,
      change: floorLast / floorFirst - 1,
      slopeMbPerMin: floorSlope,
    },
    perMinute,
    flat: rssSlope * minutes <= 0.1 * first.rssMb,
  };
}

export function printMemory(m: MemoryTrend, log: (s: string) => void): void {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  log(
    `${m.node}: RSS ${m.rss.startMb.toFixed(1)} MB at the start, ${m.rss.afterWarmupMb.toFixed(1)} MB after the ${m.warmupMin.toFixed(1)}-min warm-up, ${m.rss.endMb.toFixed(1)} MB at the end (${pct(m.rss.change)} over ${m.minutes.toFixed(1)} min; trend ${m.rss.slopeMbPerMin.toFixed(2)} MB/min); heap floor ${m.heapFloor.afterWarmupMb.toFixed(1)} -> ${m.heapFloor.endMb.toFixed(1)} MB (${pct(m.heapFloor.change)}; trend ${m.heapFloor.slopeMbPerMin.toFixed(2)} MB/min); ${m.flat ? 'flat' : 'NOT flat'} (trend grows by no more than 10 %)`,
  );
  log(
    `  per minute after warm-up (RSS MB / heap floor MB / registrations): ${m.perMinute
      .map((p) => `${p.rssMb.toFixed(0)}/${p.heapFloorMb.toFixed(0)}/${p.registrations}`)
      .join(' ')}`,
  );
}
