package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Serialises {@link OutboundPdu}s (RFC 7143 §11.1): BHS, header digest, the data segment (passed on
 * without copying; ownership moves to the channel), padding to four bytes, data digest.
 */
@ChannelHandler.Sharable
public final class PduEncoder extends MessageToMessageEncoder<OutboundPdu> {

    private final Framing framing;

    public PduEncoder(Framing framing) {
        super(OutboundPdu.class);
        this.framing = framing;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, OutboundPdu pdu, List<Object> out) {
        ByteBuf data = pdu.data();
        int length = data.readableBytes();
        int pad = (4 - (length & 3)) & 3;
        boolean dataDigest = framing.dataDigest() && length > 0;
        ByteBuf header = ctx.alloc().buffer(Pdu.BHS_LENGTH + 4 + (dataDigest ? 0 : pad));
        pdu.writeBhs(header);
        if (framing.headerDigest()) {
            header.writeIntLE(Digests.crc32c(header));
        }
        if (length == 0) {
            data.release();
            out.add(header);
            return;
        }
        if (!dataDigest) {
            if (pad == 0) {
                out.add(header);
                out.add(data);
            } else {
                out.add(header);
                out.add(data);
                out.add(ctx.alloc().buffer(pad).writeZero(pad));
            }
            return;
        }
        CRC32C crc = new CRC32C();
        Digests.update(crc, data);
        crc.update(new byte[pad]);
        out.add(header);
        out.add(data);
        out.add(ctx.alloc().buffer(pad + 4).writeZero(pad).writeIntLE((int) crc.getValue()));
    }
}
