package io.orion.dedup.admin;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Newline-delimited UTF-8 lines over a blocking socket channel, with a maximum line length. */
final class LineChannel implements AutoCloseable {

    /** Thrown when a line exceeds the limit. */
    static final class LineTooLongException extends IOException {
        LineTooLongException(int max) {
            super("line longer than " + max + " bytes");
        }
    }

    private final SocketChannel channel;
    private final int maxLine;
    private final ByteBuffer in = ByteBuffer.allocate(64 * 1024);
    private byte[] line = new byte[256];

    LineChannel(SocketChannel channel, int maxLine) {
        this.channel = channel;
        this.maxLine = maxLine;
        in.flip();
    }

    /** The next line without its terminator, or null at end of stream before any byte. */
    String readLine() throws IOException {
        int len = 0;
        while (true) {
            while (in.hasRemaining()) {
                byte b = in.get();
                if (b == '\n') {
                    int end = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
                    return new String(line, 0, end, StandardCharsets.UTF_8);
                }
                if (len == maxLine) {
                    throw new LineTooLongException(maxLine);
                }
                if (len == line.length) {
                    line = Arrays.copyOf(line, Math.min(maxLine, line.length * 2));
                }
                line[len++] = b;
            }
            in.clear();
            int n = channel.read(in);
            in.flip();
            if (n < 0) {
                if (len == 0) {
                    return null;
                }
                throw new EOFException("connection closed in the middle of a line");
            }
        }
    }

    /** Writes {@code text} and a newline. */
    void writeLine(String text) throws IOException {
        byte[] bytes = (text + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.wrap(bytes);
        while (out.hasRemaining()) {
            channel.write(out);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
