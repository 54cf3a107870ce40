import { describe } from 'vitest';
import { metricsSuite } from './metrics-suite.ts';

describe('node metrics and probes on the embedded bus', () => metricsSuite('embedded'));
