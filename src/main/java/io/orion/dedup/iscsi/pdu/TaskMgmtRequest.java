package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/** Task Management Function Request (RFC 7143 §11.5). */
public record TaskMgmtRequest(boolean immediate, int function, long lunField, int itt, int referencedTaskTag,
                              int cmdSN, int expStatSN, int refCmdSN, int expDataSN) implements InboundPdu {

    public static final int ABORT_TASK = 1;
    public static final int ABORT_TASK_SET = 2;
    public static final int CLEAR_ACA = 3;
    public static final int CLEAR_TASK_SET = 4;
    public static final int LOGICAL_UNIT_RESET = 5;
    public static final int TARGET_WARM_RESET = 6;
    public static final int TARGET_COLD_RESET = 7;
    public static final int TASK_REASSIGN = 8;

    static TaskMgmtRequest decode(ByteBuf bhs) {
        return new TaskMgmtRequest((Bhs.u8(bhs, 0) & 0x40) != 0, Bhs.u8(bhs, 1) & 0x7f, Bhs.u64(bhs, 8),
                Bhs.u32(bhs, 16), Bhs.u32(bhs, 20), Bhs.u32(bhs, 24), Bhs.u32(bhs, 28), Bhs.u32(bhs, 32),
                Bhs.u32(bhs, 36));
    }

    public long lun() {
        return Lun.decode(lunField);
    }

    @Override
    public Opcode opcode() {
        return Opcode.TASK_MGMT_REQUEST;
    }

    @Override
    public ByteBuf data() {
        return Unpooled.EMPTY_BUFFER;
    }
}
