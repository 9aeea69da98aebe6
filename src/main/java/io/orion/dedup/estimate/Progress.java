package io.orion.dedup.estimate;

import java.io.PrintWriter;
import java.util.function.LongConsumer;

/**
 * Progress of a read on stderr: a bar redrawn in place on a terminal
 * ({@code [#######.............]  35%  1.40G/4.00G  312 MB/s  ETA 0:08}), plain lines about every
 * 10 % (and at most every 2 s) otherwise, nothing when off.
 */
public final class Progress implements LongConsumer {
    /** How progress is shown. */
    public enum Mode { AUTO, BAR, LINES, NONE }

    private static final int WIDTH = 30;
    private final PrintWriter err;
    private final Mode mode;
    private final long total;
    private final long start = System.nanoTime();
    private long lastLine = -1;
    private long lastLineNanos;
    private int lastLength;

    /** @param mode BAR, LINES or NONE (resolve AUTO with {@link #resolve}) */
    public Progress(PrintWriter err, Mode mode, long total) {
        this.err = err;
        this.mode = mode;
        this.total = total;
    }

    /** AUTO: a bar when the process has a terminal, else lines. */
    public static Mode resolve(Mode m, boolean terminal) {
        return m != Mode.AUTO ? m : terminal ? Mode.BAR : Mode.LINES;
    }

    @Override
    public void accept(long done) {
        if (mode == Mode.NONE) {
            return;
        }
        long now = System.nanoTime();
        if (mode == Mode.BAR) {
            String s = line(done, now, true);
            err.print("\r" + s + " ".repeat(Math.max(0, lastLength - s.length())));
            lastLength = s.length();
            err.flush();
            return;
        }
        long tenth = total == 0 ? 10 : done * 10 / total;
        if (tenth != lastLine && (now - lastLineNanos >= 2_000_000_000L || done == total || lastLine < 0)) {
            lastLine = tenth;
            lastLineNanos = now;
            err.println("estimate: " + line(done, now, false));
            err.flush();
        }
    }

    /** Ends the bar's line (the caller prints the result next). */
    public void finish() {
        if (mode == Mode.BAR && lastLength > 0) {
            err.println();
            err.flush();
        }
    }

    private String line(long done, long now, boolean bar) {
        double secs = (now - start) / 1e9;
        double rate = secs > 0 ? done / secs : 0;
        int pct = total == 0 ? 100 : (int) (done * 100 / total);
        StringBuilder b = new StringBuilder();
        if (bar) {
            int filled = total == 0 ? WIDTH : (int) (done * WIDTH / total);
            b.append('[').append("#".repeat(filled)).append(".".repeat(WIDTH - filled)).append("]  ");
        }
        b.append(String.format("%3d%%  %s/%s  %.0f MB/s", pct, Units.bytes(done), Units.bytes(total), rate / 1e6));
        if (done < total && rate > 0) {
            long eta = (long) ((total - done) / rate);
            b.append(String.format("  ETA %d:%02d", eta / 60, eta % 60));
        }
        return b.toString();
    }
}
