package io.pbgan.demo.core;

/**
 * The app's launch check: run the shipped latents one at a time (as the reference was
 * computed) and compare all outputs with reference.bin under the converter's parity rule.
 */
public final class SelfCheck {
  private SelfCheck() {}

  /** All outputs of {@code generator} for {@code latents} (latentCount x latentSize), NHWC. */
  public static float[] run(Generator generator, ModelInfo info, float[] latents) {
    int z = info.latentSize;
    if (latents.length != info.latentCount * z) {
      throw new IllegalArgumentException(
          "latents.bin holds " + latents.length + " floats, not " + info.latentCount + " x " + z);
    }
    int size = info.imageFloats();
    float[] out = new float[info.latentCount * size];
    float[] latent = new float[z];
    for (int i = 0; i < info.latentCount; i++) {
      System.arraycopy(latents, i * z, latent, 0, z);
      float[] image = generator.generate(latent);
      if (image.length != size) {
        throw new IllegalStateException("generator gave " + image.length + " floats, not " + size);
      }
      System.arraycopy(image, 0, out, i * size, size);
    }
    return out;
  }

  public static Parity check(
      Generator generator, ModelInfo info, float[] latents, float[] reference) {
    return Parity.compare(run(generator, info, latents), reference, info);
  }
}
