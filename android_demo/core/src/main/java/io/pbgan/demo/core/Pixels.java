package io.pbgan.demo.core;

/**
 * Generator output in [-1, 1] to 8-bit pixels exactly as {@code pbgan.plots.to_uint8}:
 * {@code clip(rint(x * 127.5 + 127.5), 0, 255)}.
 *
 * <p>numpy computes {@code x * 127.5 + 127.5} in float32 (two roundings, no fused multiply-add,
 * which is also Java's float arithmetic) and {@code rint} rounds half to even: {@link Math#rint}
 * does the same, where {@link Math#round} would round 0.5 up and differ on exact halves.
 */
public final class Pixels {
  private Pixels() {}

  /** One value to 0..255. NaN maps to 0. */
  public static int toUint8(float x) {
    float scaled = x * 127.5f + 127.5f;
    double r = Math.rint(scaled);
    if (!(r > 0)) {
      return 0; // also NaN
    }
    return r > 255 ? 255 : (int) r;
  }

  /** NHWC floats (any number of images) to interleaved RGB bytes, as reference_pixels.bin. */
  public static byte[] toRgbBytes(float[] nhwc) {
    byte[] out = new byte[nhwc.length];
    for (int i = 0; i < nhwc.length; i++) {
      out[i] = (byte) toUint8(nhwc[i]);
    }
    return out;
  }

  /**
   * Image {@code index} of an NHWC batch (3 channels) to opaque ARGB ints, row-major, as
   * {@code android.graphics.Bitmap.setPixels} takes them.
   */
  public static int[] toArgb(float[] nhwc, int index, int height, int width) {
    int[] argb = new int[height * width];
    int base = index * height * width * 3;
    for (int p = 0; p < argb.length; p++) {
      int r = toUint8(nhwc[base + 3 * p]);
      int g = toUint8(nhwc[base + 3 * p + 1]);
      int b = toUint8(nhwc[base + 3 * p + 2]);
      argb[p] = 0xFF000000 | (r << 16) | (g << 8) | b;
    }
    return argb;
  }

  /**
   * {@code count} NHWC images tiled {@code cols} to a row with {@code pad} black pixels between,
   * as one ARGB array of {@link #gridWidth} x {@link #gridHeight} (like pbgan.plots.image_grid).
   */
  public static int[] grid(float[] nhwc, int count, int height, int width, int cols, int pad) {
    int rows = (count + cols - 1) / cols;
    int gw = gridWidth(width, cols, pad);
    int[] out = new int[gw * gridHeight(height, count, cols, pad)];
    java.util.Arrays.fill(out, 0xFF000000);
    for (int i = 0; i < count; i++) {
      int[] image = toArgb(nhwc, i, height, width);
      int top = (i / cols) * (height + pad);
      int left = (i % cols) * (width + pad);
      for (int y = 0; y < height; y++) {
        System.arraycopy(image, y * width, out, (top + y) * gw + left, width);
      }
    }
    return rows == 0 ? new int[0] : out;
  }

  public static int gridWidth(int width, int cols, int pad) {
    return cols * width + (cols - 1) * pad;
  }

  public static int gridHeight(int height, int count, int cols, int pad) {
    int rows = (count + cols - 1) / cols;
    return Math.max(0, rows * height + (rows - 1) * pad);
  }
}
