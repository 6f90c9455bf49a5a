package io.pbgan.demo.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** What {@code pbgan android-assets} wrote in model.properties: shapes, setting, parity rule. */
public final class ModelInfo {
  public final int[] inputShape; // [1, z]
  public final int[] outputShape; // [1, h, w, 3]
  public final int latentSize;
  public final int latentCount;
  public final String setting;
  public final String scheme;
  public final double parityTolerance;
  public final double maxMismatchFraction;
  public final long modelBytes;

  private ModelInfo(Properties p) {
    inputShape = shape(p, "input.shape");
    outputShape = shape(p, "output.shape");
    latentSize = Integer.parseInt(required(p, "latent.size"));
    latentCount = Integer.parseInt(required(p, "latents.count"));
    setting = p.getProperty("setting", "unknown");
    scheme = p.getProperty("scheme", "unknown");
    parityTolerance = Double.parseDouble(required(p, "parity.tolerance"));
    maxMismatchFraction = Double.parseDouble(required(p, "parity.max_mismatch_fraction"));
    modelBytes = Long.parseLong(p.getProperty("model.bytes", "-1"));
    if (inputShape.length != 2 || inputShape[1] != latentSize) {
      throw new IllegalArgumentException("model.properties: input.shape is not [1, latent.size]");
    }
    if (outputShape.length != 4 || outputShape[3] != 3) {
      throw new IllegalArgumentException("model.properties: output.shape is not [1, h, w, 3]");
    }
  }

  public static ModelInfo read(InputStream in) throws IOException {
    Properties p = new Properties();
    p.load(in);
    return new ModelInfo(p);
  }

  public int height() {
    return outputShape[1];
  }

  public int width() {
    return outputShape[2];
  }

  /** Floats in one image (h * w * 3). */
  public int imageFloats() {
    return outputShape[1] * outputShape[2] * outputShape[3];
  }

  private static String required(Properties p, String key) {
    String v = p.getProperty(key);
    if (v == null) {
      throw new IllegalArgumentException(
          "model.properties has no " + key + ": rewrite the assets with pbgan android-assets");
    }
    return v.trim();
  }

  private static int[] shape(Properties p, String key) {
    String[] parts = required(p, key).split(",");
    int[] dims = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      dims[i] = Integer.parseInt(parts[i].trim());
    }
    return dims;
  }
}
