package io.orion.dedup.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.orion.dedup.iscsi.pdu.ScsiCommandPdu;
import org.junit.jupiter.api.Test;

/** A task's lifecycle only goes forward, and the window slot is given back exactly once. */
class ScsiTaskStateTest {

    private static ScsiTask task() {
        ScsiCommandPdu c = new ScsiCommandPdu(false, true, true, false, 1, 0, 0x17, 512, 5, 0,
                new byte[] {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 0, Unpooled.EMPTY_BUFFER);
        return new ScsiTask(null, c);
    }

    @Test
    void aTaskGoesReceivingAdmittedExecutingFinished() {
        ScsiTask t = task();
        assertEquals(ScsiTask.State.RECEIVING, t.state());
        assertThrows(IllegalStateException.class, t::startExecuting, "not before its CmdSN is admitted");
        t.admit(true);
        assertEquals(ScsiTask.State.ADMITTED, t.state());
        assertThrows(IllegalStateException.class, () -> t.admit(true), "admitted once");
        t.startExecuting();
        assertEquals(ScsiTask.State.EXECUTING, t.state());
        assertTrue(t.finish());
        assertTrue(t.isFinished());
        assertFalse(t.finish(), "a finished task stays finished");
        assertThrows(IllegalStateException.class, () -> t.admit(false));
        assertThrows(IllegalStateException.class, t::startExecuting);
        assertTrue(t.releaseSlot(), "the admitted task held a window slot");
        assertFalse(t.releaseSlot(), "given back once");
    }

    @Test
    void aTaskFailedBeforeAdmissionNeverRunsAndHoldsNoSlot() {
        ScsiTask t = task();
        assertTrue(t.finish());
        assertThrows(IllegalStateException.class, () -> t.admit(true));
        assertFalse(t.releaseSlot());
        ScsiTask immediate = task();
        immediate.admit(false);
        assertFalse(immediate.releaseSlot(), "an immediate command holds no slot");
    }

    @Test
    void everyAllowedStepGoesForward() {
        for (ScsiTask.State from : ScsiTask.State.values()) {
            for (ScsiTask.State to : ScsiTask.State.values()) {
                if (from.canMoveTo(to)) {
                    assertTrue(to.ordinal() > from.ordinal(), from + " -> " + to);
                }
            }
        }
        assertFalse(ScsiTask.State.EXECUTING.canMoveTo(ScsiTask.State.ADMITTED));
        assertFalse(ScsiTask.State.RECEIVING.canMoveTo(ScsiTask.State.EXECUTING));
    }
}
