package io.pbgan.demo;

import android.app.Activity;
import android.graphics.Bitmap;
import android.os.Bundle;
import android.util.Log;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.LinearLayout;
import android.widget.ScrollView;
import android.widget.TextView;
import io.pbgan.demo.core.LatencyStats;
import io.pbgan.demo.core.LittleEndian;
import io.pbgan.demo.core.ModelInfo;
import io.pbgan.demo.core.Parity;
import io.pbgan.demo.core.Pixels;
import io.pbgan.demo.core.SelfCheck;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A grid of faces from model.tflite, the on-device self-check against the workstation's
 * reference outputs, and latency. All logic lives in android_demo/core; this only wires it
 * to views. The interpreter is used from one background thread only.
 */
public final class MainActivity extends Activity {
  private static final int COLS = 4;
  private static final int WARMUP = 5;
  private static final int RUNS = 50;
  private static final int SCALE = 8;

  private final ExecutorService worker = Executors.newSingleThreadExecutor();
  private final Random random = new Random();
  private TextView status;
  private ImageView faces;
  private Button again;
  private LceGenerator generator;
  private ModelInfo info;
  private final StringBuilder report = new StringBuilder();

  @Override
  protected void onCreate(Bundle state) {
    super.onCreate(state);
    LinearLayout column = new LinearLayout(this);
    column.setOrientation(LinearLayout.VERTICAL);
    faces = new ImageView(this);
    faces.setAdjustViewBounds(true);
    again = new Button(this);
    again.setText("New faces");
    again.setEnabled(false);
    again.setOnClickListener(v -> worker.execute(this::drawRandomFaces));
    status = new TextView(this);
    status.setTextIsSelectable(true);
    column.addView(faces);
    column.addView(again);
    column.addView(status);
    ScrollView scroll = new ScrollView(this);
    scroll.addView(column);
    setContentView(scroll);
    show("loading model.tflite ...");
    worker.execute(this::start);
  }

  private byte[] asset(String name) throws IOException {
    try (InputStream in = getAssets().open(name)) {
      return LittleEndian.readAll(in);
    }
  }

  private void start() {
    try {
      try (InputStream in = getAssets().open("model.properties")) {
        info = ModelInfo.read(in);
      }
      int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
      generator = new LceGenerator(getAssets(), info, threads);
      line(String.format(Locale.ROOT, "model.tflite: %,d bytes, setting %s, scheme %s",
          asset("model.tflite").length, info.setting, info.scheme));
      line("threads: " + threads);

      float[] latents = LittleEndian.floats(asset("latents.bin"));
      float[] reference = LittleEndian.floats(asset("reference.bin"));
      float[] outputs = SelfCheck.run(generator, info, latents);
      Parity parity = Parity.compare(outputs, reference, info);
      line("self-check, " + info.latentCount + " fixed latents vs the workstation's LCE "
          + "interpreter: " + parity);
      draw(outputs, info.latentCount);

      float[] first = java.util.Arrays.copyOf(latents, info.latentSize);
      LatencyStats stats = LatencyStats.measure(() -> generator.generate(first), WARMUP, RUNS);
      line("latency (batch 1): " + stats);
      runOnUiThread(() -> again.setEnabled(true));
    } catch (IOException | RuntimeException e) {
      line("error: " + e);
    }
  }

  private void drawRandomFaces() {
    int n = info.latentCount;
    float[] images = new float[n * info.imageFloats()];
    float[] latent = new float[info.latentSize];
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < latent.length; k++) {
        latent[k] = (float) random.nextGaussian();
      }
      System.arraycopy(generator.generate(latent), 0, images, i * info.imageFloats(),
          info.imageFloats());
    }
    draw(images, n);
  }

  private void draw(float[] images, int n) {
    int pad = 1;
    int w = Pixels.gridWidth(info.width(), COLS, pad);
    int h = Pixels.gridHeight(info.height(), n, COLS, pad);
    int[] argb = Pixels.grid(images, n, info.height(), info.width(), COLS, pad);
    Bitmap grid = Bitmap.createBitmap(argb, w, h, Bitmap.Config.ARGB_8888);
    Bitmap big = Bitmap.createScaledBitmap(grid, w * SCALE, h * SCALE, false);
    runOnUiThread(() -> faces.setImageBitmap(big));
  }

  private void line(String text) {
    synchronized (report) {
      Log.i("pbgan", text);
      report.append(text).append('\n');
      show(report.toString());
    }
  }

  private void show(String text) {
    runOnUiThread(() -> status.setText(text));
  }

  @Override
  protected void onDestroy() {
    worker.execute(() -> {
      if (generator != null) {
        generator.close();
      }
    });
    worker.shutdown();
    super.onDestroy();
  }
}
