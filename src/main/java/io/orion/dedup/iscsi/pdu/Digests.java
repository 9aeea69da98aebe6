package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** CRC32C digests (RFC 7143 §13.1, Appendix B.4), sent least significant byte first. */
public final class Digests {

    private Digests() {
    }

    /** CRC32C of the readable bytes of {@code buf}. */
    public static int crc32c(ByteBuf buf) {
        CRC32C crc = new CRC32C();
        update(crc, buf);
        return (int) crc.getValue();
    }

    static void update(CRC32C crc, ByteBuf buf) {
        if (buf.nioBufferCount() > 0) {
            for (ByteBuffer b : buf.nioBuffers()) {
                crc.update(b);
            }
        } else {
            byte[] copy = new byte[buf.readableBytes()];
            buf.getBytes(buf.readerIndex(), copy);
            crc.update(copy);
        }
    }

    /** CRC32C of {@code a} followed by {@code b}. */
    public static int crc32c(byte[] a, byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(a);
        if (b != null) {
            crc.update(b);
        }
        return (int) crc.getValue();
    }
}
