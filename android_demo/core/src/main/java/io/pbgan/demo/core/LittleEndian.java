package io.pbgan.demo.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** The asset files: float32 little-endian arrays (latents.bin, reference.bin) and raw bytes. */
public final class LittleEndian {
  private LittleEndian() {}

  public static byte[] readAll(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] chunk = new byte[1 << 16];
    for (int n; (n = in.read(chunk)) != -1; ) {
      out.write(chunk, 0, n);
    }
    return out.toByteArray();
  }

  /** {@code data} as float32 little-endian; its length must be a multiple of 4. */
  public static float[] floats(byte[] data) {
    if (data.length % 4 != 0) {
      throw new IllegalArgumentException(data.length + " bytes is not a whole number of floats");
    }
    float[] out = new float[data.length / 4];
    ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    return out;
  }

  public static float[] readFloats(InputStream in) throws IOException {
    return floats(readAll(in));
  }
}
