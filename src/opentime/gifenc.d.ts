/** The part of gifenc (no bundled types) that gif-countdown.ts uses. */
declare module 'gifenc' {
  export interface FrameOptions {
    palette?: number[][]
    delay?: number
    /** -1: no NETSCAPE loop extension (play once); 0: loop forever; n: loop n times. */
    repeat?: number
    colorDepth?: number
    transparent?: boolean
    transparentIndex?: number
    dispose?: number
    first?: boolean
  }
  export interface Encoder {
    writeFrame(index: Uint8Array, width: number, height: number, opts?: FrameOptions): void
    finish(): void
    bytes(): Uint8Array
    bytesView(): Uint8Array
    reset(): void
  }
  const gifenc: {
    GIFEncoder(opts?: { initialCapacity?: number; auto?: boolean }): Encoder
    quantize(rgba: Uint8Array | Uint8ClampedArray, maxColors: number): number[][]
    applyPalette(rgba: Uint8Array | Uint8ClampedArray, palette: number[][]): Uint8Array
  }
  export default gifenc
}
