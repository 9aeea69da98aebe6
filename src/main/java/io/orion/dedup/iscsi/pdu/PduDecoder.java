package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Frames inbound PDUs (RFC 7143 §11.1): a state machine BHS → AHS → header digest → data → data
 * digest, with BAD_MESSAGE as the sink after a framing error. Data segments are retained slices
 * of the cumulation buffer, never copies. The data segment length is checked against
 * {@link Framing#maxInboundSegment()} as soon as the BHS is read.
 *
 * <p>Outcomes: a known initiator opcode becomes its {@link InboundPdu} record; an unknown opcode
 * becomes {@link UnknownPdu} (the caller Rejects it and the stream stays usable); a data digest
 * mismatch becomes {@link DigestErrorPdu}; anything that breaks framing (header digest mismatch,
 * oversize segment) raises {@link PduFormatException} once and discards the rest of the stream.
 */
public final class PduDecoder extends ByteToMessageDecoder {

    private enum State { BHS, AHS, HEADER_DIGEST, DATA, DATA_DIGEST, BAD_MESSAGE }

    private final Framing framing;
    private State state = State.BHS;
    private final byte[] bhs = new byte[Pdu.BHS_LENGTH];
    private byte[] ahs;
    private int dataLength;
    private int paddedLength;
    private ByteBuf padded;

    public PduDecoder(Framing framing) {
        this.framing = framing;
    }

    @Override
    @SuppressWarnings("fallthrough") // each state falls into the next once its bytes are there
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case BHS:
                if (in.readableBytes() < Pdu.BHS_LENGTH) {
                    return;
                }
                in.readBytes(bhs);
                ByteBuf h = Unpooled.wrappedBuffer(bhs);
                dataLength = Bhs.dataSegmentLength(h);
                paddedLength = (dataLength + 3) & ~3;
                if (dataLength > framing.maxInboundSegment()) {
                    fail(String.format("data segment of %d bytes exceeds MaxRecvDataSegmentLength %d "
                            + "(opcode 0x%02x)", dataLength, framing.maxInboundSegment(), bhs[0] & 0x3f));
                }
                int ahsLength = Bhs.totalAhsLength(h);
                ahs = ahsLength == 0 ? null : new byte[ahsLength];
                state = State.AHS;
                // fall through
            case AHS:
                if (ahs != null) {
                    if (in.readableBytes() < ahs.length) {
                        return;
                    }
                    in.readBytes(ahs);
                }
                state = State.HEADER_DIGEST;
                // fall through
            case HEADER_DIGEST:
                if (framing.headerDigest()) {
                    if (in.readableBytes() < 4) {
                        return;
                    }
                    int received = in.readIntLE();
                    if (received != Digests.crc32c(bhs, ahs)) {
                        fail("header digest mismatch");
                    }
                }
                state = State.DATA;
                // fall through
            case DATA:
                if (paddedLength > 0) {
                    if (in.readableBytes() < paddedLength) {
                        return;
                    }
                    padded = in.readRetainedSlice(paddedLength);
                }
                state = State.DATA_DIGEST;
                // fall through
            case DATA_DIGEST:
                boolean digestOk = true;
                if (framing.dataDigest() && paddedLength > 0) {
                    if (in.readableBytes() < 4) {
                        return;
                    }
                    digestOk = in.readIntLE() == Digests.crc32c(padded);
                }
                state = State.BHS;
                out.add(build(digestOk));
                return;
            case BAD_MESSAGE:
                in.skipBytes(in.readableBytes());
                return;
            default:
                throw new IllegalStateException(state.name());
        }
    }

    private InboundPdu build(boolean digestOk) {
        ByteBuf data;
        if (padded == null) {
            data = Unpooled.EMPTY_BUFFER;
        } else {
            data = padded.retainedSlice(padded.readerIndex(), dataLength);
            padded.release();
            padded = null;
        }
        ByteBuf h = Unpooled.wrappedBuffer(bhs);
        int code = bhs[0] & 0x3f;
        int itt = Bhs.u32(h, 16);
        Opcode op = Opcode.of(code).filter(Opcode::fromInitiator).orElse(null);
        if (op == null) {
            data.release();
            return new UnknownPdu(code, itt, bhs.clone());
        }
        if (!digestOk) {
            data.release();
            return new DigestErrorPdu(op, itt, bhs.clone());
        }
        return switch (op) {
            case NOP_OUT -> NopOut.decode(h, data);
            case SCSI_COMMAND -> ScsiCommandPdu.decode(h, ahs, data);
            case TASK_MGMT_REQUEST -> {
                data.release();
                yield TaskMgmtRequest.decode(h);
            }
            case LOGIN_REQUEST -> LoginRequest.decode(h, data);
            case TEXT_REQUEST -> TextRequest.decode(h, data);
            case SCSI_DATA_OUT -> DataOut.decode(h, data);
            case LOGOUT_REQUEST -> {
                data.release();
                yield LogoutRequest.decode(h);
            }
            case SNACK_REQUEST -> {
                data.release();
                yield SnackRequest.decode(h, bhs.clone());
            }
            default -> throw new IllegalStateException(op.name());
        };
    }

    /**
     * A copy of the BHS of the PDU most recently decoded, for a Reject (RFC 7143 §11.17.1). The
     * handler runs synchronously after each decoded PDU, so this is the header of the PDU it is
     * handling.
     */
    public byte[] lastHeader() {
        return bhs.clone();
    }

    private void fail(String why) {
        state = State.BAD_MESSAGE;
        throw new PduFormatException(why);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        if (padded != null) {
            padded.release();
            padded = null;
        }
    }
}
