/** The part of omggif (no bundled types) the image tests use to decode GIFs. */
declare module 'omggif' {
  export interface FrameInfo {
    x: number
    y: number
    width: number
    height: number
    /** centiseconds */
    delay: number
    disposal: number
    transparent_index: number | null
  }
  export class GifReader {
    constructor(buf: Uint8Array)
    width: number
    height: number
    numFrames(): number
    /** null: no NETSCAPE loop extension (the animation plays once). */
    loopCount(): number | null
    frameInfo(i: number): FrameInfo
    decodeAndBlitFrameRGBA(i: number, pixels: Uint8Array): void
  }
  const omggif: { GifReader: typeof GifReader }
  export default omggif
}
