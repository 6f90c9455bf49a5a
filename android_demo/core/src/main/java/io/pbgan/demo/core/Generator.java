package io.pbgan.demo.core;

/** One batch-1 inference: a latent of {@code latentSize} floats to h * w * 3 NHWC floats. */
public interface Generator {
  float[] generate(float[] latent);
}
