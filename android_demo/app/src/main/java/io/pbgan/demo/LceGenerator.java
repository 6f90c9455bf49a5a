package io.pbgan.demo;

import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;
import io.pbgan.demo.core.Generator;
import io.pbgan.demo.core.ModelInfo;
import java.io.Closeable;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import org.tensorflow.lite.Interpreter;

/**
 * model.tflite in TF Lite's Java {@link Interpreter} from LCE's AAR. Nothing registers LCE's
 * ops here: the AAR's JNI library (lce_ops_jni.cc) builds its op resolver with
 * RegisterLCECustomOps, so a plain Interpreter runs LceBconv2d and LceQuantize.
 */
final class LceGenerator implements Generator, Closeable {
  private final Interpreter interpreter;
  private final ModelInfo info;
  private final float[][] input;
  private final ByteBuffer output;
  final int threads;

  LceGenerator(AssetManager assets, ModelInfo info, int threads) throws IOException {
    this.info = info;
    this.threads = threads;
    Interpreter.Options options = new Interpreter.Options();
    options.setNumThreads(threads);
    interpreter = new Interpreter(map(assets, "model.tflite"), options);
    input = new float[1][info.latentSize];
    output = ByteBuffer.allocateDirect(4 * info.imageFloats()).order(ByteOrder.nativeOrder());
  }

  private static MappedByteBuffer map(AssetManager assets, String name) throws IOException {
    try (AssetFileDescriptor fd = assets.openFd(name);
        FileInputStream in = new FileInputStream(fd.getFileDescriptor());
        FileChannel channel = in.getChannel()) {
      return channel.map(
          FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
    }
  }

  @Override
  public float[] generate(float[] latent) {
    System.arraycopy(latent, 0, input[0], 0, info.latentSize);
    output.rewind();
    interpreter.run(input, output);
    output.rewind();
    float[] image = new float[info.imageFloats()];
    output.asFloatBuffer().get(image);
    return image;
  }

  @Override
  public void close() {
    interpreter.close();
  }
}
