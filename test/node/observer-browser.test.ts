import { describe } from 'vitest';
import { chromiumGate } from './support/chromium.ts';
import { observerBrowserSuite } from './observer-browser-suite.ts';

const gate = await chromiumGate();
describe.skipIf(!gate.available)('observer page in Chromium, one node on the embedded bus', () =>
  observerBrowserSuite('embedded', ['solo-page@localhost']),
);
