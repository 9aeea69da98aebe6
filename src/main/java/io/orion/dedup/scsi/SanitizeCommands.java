package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u8;

import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.OutOfSpaceException;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SANITIZE (SBC-4 §5.30) with the service actions OVERWRITE (01h), BLOCK ERASE (02h) and EXIT
 * FAILURE MODE (1Fh). CRYPTOGRAPHIC ERASE (03h) is not supported: the data is not encrypted, so
 * there is no key to destroy; it answers INVALID FIELD IN CDB and REPORT SUPPORTED OPERATION
 * CODES does not list it.
 *
 * <p>BLOCK ERASE deallocates every block of the LU (they then read as zeros, LBPRZ). OVERWRITE
 * writes the initialization pattern (repeated to a block, inverted between passes when INVERT is
 * set) to every block with WRITE SAME semantics: on a dedup volume every block then references one
 * chunk. Either way the LU no longer references any of its former chunks, so what only it held is
 * reclaimed by the next reference cleanup.
 *
 * <p>While a sanitize runs, every command but INQUIRY, REPORT LUNS and REQUEST SENSE gets NOT
 * READY, SANITIZE IN PROGRESS (SBC-4 §4.11.2), on every nexus. With IMMED the command returns GOOD
 * once its CDB and parameters are checked and the sanitize continues in the background.
 *
 * <p>A sanitize whose work fails (the device throws) leaves the LU in sanitize failure (SBC-4
 * §4.11): the SANITIZE itself, without IMMED, answers MEDIUM ERROR, SANITIZE COMMAND FAILED (on a
 * full pool: SPACE ALLOCATION FAILED WRITE PROTECT, as every write of new data), and every command
 * that accesses the medium ({@link #mediumAccess}) gets MEDIUM ERROR, SANITIZE COMMAND FAILED on
 * every nexus until a SANITIZE succeeds. EXIT FAILURE MODE ends the failure state only if the failed SANITIZE had AUSE
 * set; otherwise it answers INVALID FIELD IN CDB. Without a failure it answers GOOD. The state
 * lives in memory: it does not survive a restart of the server.
 */
final class SanitizeCommands {

    private static final Logger LOG = LoggerFactory.getLogger(SanitizeCommands.class);
    static final int OVERWRITE = 0x01;
    static final int BLOCK_ERASE = 0x02;
    static final int EXIT_FAILURE_MODE = 0x1f;

    private SanitizeCommands() {
    }

    static CommandSpec.Executor sanitize(Request r) {
        r.checkWritable();
        byte[] cdb = r.cdb;
        int sa = u8(cdb, 1) & 0x1f;
        boolean immed = (u8(cdb, 1) & 0x80) != 0;
        if ((u8(cdb, 1) & 0x40) != 0) {
            throw SenseException.cdb(1, 6); // reserved
        }
        for (int i = 2; i <= 6; i++) {
            if (cdb[i] != 0) {
                throw SenseException.cdb(i, -1); // reserved
            }
        }
        boolean ause = (u8(cdb, 1) & 0x20) != 0;
        int listLen = u16(cdb, 7);
        if (sa != OVERWRITE) {
            if (listLen != 0) {
                throw SenseException.cdb(7, -1); // BLOCK ERASE and EXIT FAILURE MODE take no parameters
            }
            if (sa == EXIT_FAILURE_MODE) {
                LogicalUnit lu = r.lu;
                if (lu.sanitizeFailed && !lu.sanitizeAuse) {
                    throw SenseException.cdb(1, 5); // the failed SANITIZE did not allow an exit (AUSE)
                }
                return () -> {
                    if (lu.sanitizeFailed) {
                        LOG.warn("LUN {} leaves sanitize failure mode (EXIT FAILURE MODE)", lu.lun);
                    }
                    lu.sanitizeFailed = false;
                    return Responses.good();
                };
            }
            r.changing(0, 0); // every ROD token of this LU now names changed data
            return run(r, immed, ause, 0, dev -> dev.unmap(0, dev.blockCount()));
        }
        int bs = r.blockSize();
        if (listLen < 5 || listLen > bs + 4) {
            throw SenseException.cdb(7, -1);
        }
        if (r.dataOutLength() < listLen) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = r.parameters(listLen);
        boolean invert = (u8(p, 0) & 0x80) != 0;
        if ((u8(p, 0) & 0x60) != 0) {
            throw SenseException.param(0); // TEST: vendor-specific tests are not supported
        }
        int count = u8(p, 0) & 0x1f;
        int patternLen = u16(p, 2);
        if (count == 0 || patternLen == 0 || patternLen > bs || patternLen != listLen - 4) {
            // libiscsi (Sanitize.Overwrite) expects these as INVALID FIELD IN CDB
            throw SenseException.cdb(7, -1);
        }
        byte[] block = new byte[bs];
        for (int i = 0; i < bs; i++) {
            block[i] = p[4 + i % patternLen];
        }
        if (invert && count % 2 == 0) {
            // the last of an even number of passes writes the inverted pattern
            for (int i = 0; i < bs; i++) {
                block[i] = (byte) ~block[i];
            }
        }
        r.changing(0, 0); // every ROD token of this LU now names changed data
        return run(r, immed, ause, listLen, dev -> dev.writeSame(0, dev.blockCount(), ByteBuffer.wrap(block), false));
    }

    private interface Work {
        void apply(BlockDevice dev) throws IOException;
    }

    /**
     * The commands sanitize failure refuses: those that read or change user data (READ, WRITE,
     * VERIFY, WRITE SAME, UNMAP, COMPARE AND WRITE, PRE-FETCH, GET LBA STATUS, the copy commands...),
     * but not SANITIZE, MODE SENSE/SELECT, READ DEFECT DATA or commands that touch no data.
     */
    static boolean mediumAccess(CommandSpec spec) {
        return switch (spec.opcode()) {
            case 0x48, 0x1a, 0x5a, 0x37, 0xb7 -> false;
            default -> spec.changesMedium() || spec.has(CommandSpec.READS);
        };
    }

    private static CommandSpec.Executor run(Request r, boolean immed, boolean ause, int outLen, Work work) {
        LogicalUnit lu = r.lu;
        BlockDevice dev = lu.device;
        if (immed) {
            return () -> {
                start(lu, ause);
                Thread t = new Thread(() -> {
                    try {
                        apply(lu, dev, work);
                    } catch (IOException | RuntimeException e) {
                        LOG.error("SANITIZE of LUN {} failed: the LUN is in sanitize failure", lu.lun, e);
                    }
                }, "sanitize-lun-" + lu.lun);
                t.setDaemon(true);
                t.start();
                return Responses.goodOut(outLen);
            };
        }
        return () -> {
            start(lu, ause);
            try {
                apply(lu, dev, work);
            } catch (OutOfSpaceException e) {
                // a full pool answers as for every write of new data (07/27/07); the LU is in failure
                LOG.error("SANITIZE of LUN {} failed, out of space: the LUN is in sanitize failure", lu.lun, e);
                throw SenseReason.SPACE_ALLOCATION_FAILED_WRITE_PROTECT.ex();
            } catch (IOException | RuntimeException e) {
                LOG.error("SANITIZE of LUN {} failed: the LUN is in sanitize failure", lu.lun, e);
                throw SenseReason.SANITIZE_COMMAND_FAILED.ex();
            }
            return Responses.goodOut(outLen);
        };
    }

    private static void start(LogicalUnit lu, boolean ause) {
        lu.sanitizeAuse = ause;
        lu.sanitizing = true;
    }

    /** Runs the work; the LU is in sanitize failure if it throws, out of it if it succeeds. */
    private static void apply(LogicalUnit lu, BlockDevice dev, Work work) throws IOException {
        boolean ok = false;
        try {
            work.apply(dev);
            dev.flush();
            ok = true;
        } finally {
            lu.sanitizeFailed = !ok; // before sanitizing ends: no command slips in between
            lu.sanitizing = false;
        }
    }
}
