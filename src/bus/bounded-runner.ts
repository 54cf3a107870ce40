/**
 * BoundedRunner: runs tasks with at most `concurrency` in flight; the rest wait in a FIFO
 * backlog of at most `maxBacklog`. `run(task)` returns false (and runs nothing) when the
 * backlog is full, so the caller can count and log the drop. A task that throws or
 * rejects is reported to `onError` and never stops the runner. `idle()` resolves when
 * nothing runs and nothing waits (DONE, done.ts, when that is already so).
 */
import { DONE } from './done.ts';

export type Task = () => void | Promise<void>;

export class BoundedRunner {
  private active = 0;
  private readonly backlog: Task[] = [];
  private backlogHead = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxBacklog: number,
    private readonly onError: (err: unknown) => void,
  ) {
    if (!(concurrency >= 1)) throw new Error(`BoundedRunner concurrency must be >= 1, got ${concurrency}`);
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.backlog.length - this.backlogHead;
  }

  run(task: Task): boolean {
    if (this.active < this.concurrency) {
      this.start(task);
      return true;
    }
    if (this.waiting >= this.maxBacklog) return false;
    this.backlog.push(task);
    return true;
  }

  idle(): Promise<void> {
    if (this.active === 0 && this.waiting === 0) return DONE;
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private start(task: Task): void {
    this.active++;
    let result: void | Promise<void>;
    try {
      result = task();
    } catch (err) {
      this.onError(err);
      this.finish();
      return;
    }
    if (result instanceof Promise) {
      result.then(
        () => this.finish(),
        (err: unknown) => {
          this.onError(err);
          this.finish();
        },
      );
    } else {
      this.finish();
    }
  }

  private finish(): void {
    this.active--;
    if (this.waiting > 0) {
      const next = this.backlog[this.backlogHead];
      this.backlog[this.backlogHead++] = undefined as unknown as Task;
      if (this.backlogHead > 1024 && this.backlogHead * 2 > this.backlog.length) {
        this.backlog.splice(0, this.backlogHead);
        this.backlogHead = 0;
      }
      this.start(next);
      return;
    }
    if (this.active === 0 && this.idleWaiters.length > 0) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }
}
