/**
 * WAV files of the simulator: 8 kHz, 16-bit, mono PCM (what FreeSWITCH records by default
 * at a narrowband call's rate).
 *
 * Contract
 * - `silenceWav(ms)` is a valid RIFF/WAVE file of `ms` milliseconds of silence: a 44-byte
 *   header and 16 bytes of samples per millisecond.
 * - `wavDurationMs(bytes)` reads a RIFF/WAVE file's length in ms from its `fmt ` byte rate
 *   and `data` chunk size, or undefined when the bytes are not one (never throws).
 */
const RATE = 8000;
const BYTES_PER_SAMPLE = 2;
const BYTE_RATE = RATE * BYTES_PER_SAMPLE;

export function silenceWav(ms: number): Buffer {
  const dataBytes = Math.max(0, Math.floor(ms)) * (BYTE_RATE / 1000);
  const b = Buffer.alloc(44 + dataBytes);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + dataBytes, 4);
  b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii');
  b.writeUInt32LE(16, 16); // fmt chunk size
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(RATE, 24);
  b.writeUInt32LE(BYTE_RATE, 28);
  b.writeUInt16LE(BYTES_PER_SAMPLE, 32); // block align
  b.writeUInt16LE(16, 34); // bits per sample
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(dataBytes, 40);
  return b;
}

export function wavDurationMs(bytes: Buffer): number | undefined {
  if (
    bytes.length < 12 ||
    bytes.toString('ascii', 0, 4) !== 'RIFF' ||
    bytes.toString('ascii', 8, 12) !== 'WAVE'
  )
    return undefined;
  let byteRate: number | undefined;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    if (id === 'fmt ' && at + 20 <= bytes.length) byteRate = bytes.readUInt32LE(at + 16);
    if (id === 'data') {
      if (byteRate === undefined || byteRate === 0) return undefined;
      const available = Math.min(size, bytes.length - at - 8);
      return Math.round((available * 1000) / byteRate);
    }
    at += 8 + size + (size % 2);
  }
  return undefined;
}
