package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Text key=value pairs as carried in Login and Text PDUs (RFC 7143 §6.1): UTF-8, each pair
 * terminated by a NUL byte. Order is kept; a pair without '=' is kept with a null value so the
 * caller can answer it with Reject.
 */
public final class TextParams {

    private TextParams() {
    }

    /** Parses the bytes of a (possibly concatenated) text data segment. */
    public static List<Map.Entry<String, String>> parse(byte[] bytes) {
        List<Map.Entry<String, String>> result = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= bytes.length; i++) {
            if (i == bytes.length || bytes[i] == 0) {
                if (i > start) {
                    String pair = new String(bytes, start, i - start, StandardCharsets.UTF_8);
                    int eq = pair.indexOf('=');
                    result.add(eq < 0 ? new java.util.AbstractMap.SimpleImmutableEntry<>(pair, null)
                            : Map.entry(pair.substring(0, eq), pair.substring(eq + 1)));
                }
                start = i + 1;
            }
        }
        return result;
    }

    /** Readable bytes of {@code buf} as an array (the buffer is not released). */
    public static byte[] bytes(ByteBuf buf) {
        byte[] b = new byte[buf.readableBytes()];
        buf.getBytes(buf.readerIndex(), b);
        return b;
    }

    /** Encodes pairs, each followed by NUL. */
    public static byte[] encode(List<Map.Entry<String, String>> pairs) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Map.Entry<String, String> e : pairs) {
            out.writeBytes((e.getKey() + "=" + e.getValue()).getBytes(StandardCharsets.UTF_8));
            out.write(0);
        }
        return out.toByteArray();
    }

    /** Wraps encoded pairs in a buffer. */
    public static ByteBuf toBuffer(List<Map.Entry<String, String>> pairs) {
        return Unpooled.wrappedBuffer(encode(pairs));
    }
}
