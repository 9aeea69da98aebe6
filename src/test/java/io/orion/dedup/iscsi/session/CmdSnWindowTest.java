package io.orion.dedup.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CmdSnWindowTest {

    private final List<Integer> delivered = new ArrayList<>();

    private CmdSnWindow.Verdict offer(CmdSnWindow w, int sn) {
        List<Runnable> run = new ArrayList<>();
        CmdSnWindow.Verdict v = w.offer(sn, true, () -> delivered.add(sn), run);
        run.forEach(Runnable::run);
        return v;
    }

    @Test
    void deliversInOrderAndHoldsGaps() {
        CmdSnWindow w = new CmdSnWindow(10, 4);
        assertEquals(CmdSnWindow.Verdict.QUEUED, offer(w, 12));
        assertEquals(CmdSnWindow.Verdict.QUEUED, offer(w, 11));
        assertTrue(delivered.isEmpty());
        assertEquals(CmdSnWindow.Verdict.DELIVER, offer(w, 10));
        assertEquals(List.of(10, 11, 12), delivered);
        assertEquals(13, w.expCmdSN());
        assertEquals(3, w.active());
        assertEquals(13, w.maxCmdSN(), "the window closes as commands stay active");
    }

    @Test
    void dropsOutsideTheWindowAndDuplicates() {
        CmdSnWindow w = new CmdSnWindow(10, 4);
        assertEquals(CmdSnWindow.Verdict.DROP, offer(w, 9));
        assertEquals(CmdSnWindow.Verdict.DROP, offer(w, 14));
        assertEquals(CmdSnWindow.Verdict.QUEUED, offer(w, 13));
        assertEquals(CmdSnWindow.Verdict.DROP, offer(w, 13));
        assertTrue(delivered.isEmpty());
    }

    @Test
    void maxCmdSnGrowsWhenCommandsFinishAndNeverShrinks() {
        CmdSnWindow w = new CmdSnWindow(0, 2);
        offer(w, 0);
        offer(w, 1);
        assertEquals(1, w.maxCmdSN());
        assertFalse(w.inWindow(2));
        w.finished();
        assertEquals(2, w.maxCmdSN());
        assertTrue(w.inWindow(2));
        w.finished();
        assertEquals(3, w.maxCmdSN());
    }

    @Test
    void serialArithmeticWrapsAround() {
        CmdSnWindow w = new CmdSnWindow(-2, 8);
        assertEquals(CmdSnWindow.Verdict.QUEUED, offer(w, 0));
        assertEquals(CmdSnWindow.Verdict.DELIVER, offer(w, -2));
        assertEquals(CmdSnWindow.Verdict.DELIVER, offer(w, -1));
        assertEquals(List.of(-2, -1, 0), delivered);
        assertTrue(CmdSnWindow.after(1, -1));
        assertEquals(1, w.expCmdSN());
    }

    @Test
    void consumingAMissingCmdSnReleasesTheQueue() {
        CmdSnWindow w = new CmdSnWindow(5, 8);
        offer(w, 6);
        List<Runnable> run = new ArrayList<>();
        w.consume(5, run);
        run.forEach(Runnable::run);
        assertEquals(List.of(6), delivered);
        assertEquals(7, w.expCmdSN());
    }
}
