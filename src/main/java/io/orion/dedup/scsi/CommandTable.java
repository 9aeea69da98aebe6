package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.CommandSpec.CONFLICT_EXEMPT;
import static io.orion.dedup.scsi.CommandSpec.DATA_IN;
import static io.orion.dedup.scsi.CommandSpec.DATA_OUT;
import static io.orion.dedup.scsi.CommandSpec.NO_LUN_OK;
import static io.orion.dedup.scsi.CommandSpec.READS;
import static io.orion.dedup.scsi.CommandSpec.UA_EXEMPT;
import static io.orion.dedup.scsi.CommandSpec.WRITES;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * The 256-slot opcode table (SPC-4 §4.2.5.1). An empty slot answers INVALID COMMAND OPERATION CODE;
 * a slot of an opcode with service actions holds one entry per service action, and an unknown
 * service action answers INVALID FIELD IN CDB.
 */
final class CommandTable {

    private final List<List<CommandSpec>> slots = new ArrayList<>(256);
    private final List<CommandSpec> all = new ArrayList<>();

    CommandTable() {
        for (int i = 0; i < 256; i++) {
            slots.add(new ArrayList<>());
        }
        final int h = 0xff;
        final int none = 0;
        final int exempt = UA_EXEMPT | CONFLICT_EXEMPT | NO_LUN_OK;
        add(0x00, -1, "TEST UNIT READY", u(0x00, 0, 0, 0, 0, 0), none, ControlCommands::testUnitReady);
        add(0x03, -1, "REQUEST SENSE", u(0x03, 0x01, 0, 0, h, 0), exempt | DATA_IN, ControlCommands::requestSense);
        add(0x08, -1, "READ(6)", u(0x08, 0x1f, h, h, h, 0), READS | DATA_IN, BlockCommands::read);
        add(0x0a, -1, "WRITE(6)", u(0x0a, 0x1f, h, h, h, 0), WRITES | DATA_OUT, BlockCommands::write);
        add(0x12, -1, "INQUIRY", u(0x12, 0x01, h, h, h, 0), exempt | DATA_IN, Inquiry::parse);
        add(0x15, -1, "MODE SELECT(6)", u(0x15, 0x11, 0, 0, h, 0), WRITES | DATA_OUT, ModePages::select);
        add(0x16, -1, "RESERVE(6)", u(0x16, 0, 0, 0, 0, 0), none, ControlCommands::reserve);
        add(0x17, -1, "RELEASE(6)", u(0x17, 0, 0, 0, 0, 0), CONFLICT_EXEMPT, ControlCommands::release);
        add(0x1a, -1, "MODE SENSE(6)", u(0x1a, 0x08, h, h, h, 0), READS | DATA_IN, ModePages::sense);
        add(0x1b, -1, "START STOP UNIT", u(0x1b, 0x01, 0, 0x0f, 0xf7, 0), none, ControlCommands::startStopUnit);
        add(0x1e, -1, "PREVENT ALLOW MEDIUM REMOVAL", u(0x1e, 0, 0, 0, 0x03, 0), none, ControlCommands::preventAllow);
        add(0x25, -1, "READ CAPACITY(10)", u(0x25, 0, h, h, h, h, 0, 0, 0x01, 0), DATA_IN, BlockCommands::readCapacity10);
        add(0x28, -1, "READ(10)", u(0x28, 0x1a, h, h, h, h, 0x1f, h, h, 0), READS | DATA_IN, BlockCommands::read);
        add(0x2a, -1, "WRITE(10)", u(0x2a, 0x1a, h, h, h, h, 0x1f, h, h, 0), WRITES | DATA_OUT, BlockCommands::write);
        add(0x2e, -1, "WRITE AND VERIFY(10)", u(0x2e, 0x12, h, h, h, h, 0x1f, h, h, 0), WRITES | DATA_OUT,
                BlockCommands::writeAndVerify);
        add(0x2f, -1, "VERIFY(10)", u(0x2f, 0x16, h, h, h, h, 0x1f, h, h, 0), READS, BlockCommands::verify);
        add(0x34, -1, "PRE-FETCH(10)", u(0x34, 0x02, h, h, h, h, 0x1f, h, h, 0), READS, BlockCommands::preFetch);
        add(0x35, -1, "SYNCHRONIZE CACHE(10)", u(0x35, 0x02, h, h, h, h, 0x1f, h, h, 0), WRITES,
                BlockCommands::synchronizeCache);
        add(0x37, -1, "READ DEFECT DATA(10)", u(0x37, 0, 0x1f, 0, 0, 0, 0, h, h, 0), READS | DATA_IN,
                ControlCommands::readDefectData);
        add(0x41, -1, "WRITE SAME(10)", u(0x41, 0x08, h, h, h, h, 0x1f, h, h, 0), WRITES | DATA_OUT, BlockCommands::writeSame);
        add(0x42, -1, "UNMAP", u(0x42, 0, 0, 0, 0, 0, 0x1f, h, h, 0), WRITES | DATA_OUT, BlockCommands::unmap);
        add(0x55, -1, "MODE SELECT(10)", u(0x55, 0x11, 0, 0, 0, 0, 0, h, h, 0), WRITES | DATA_OUT, ModePages::select);
        add(0x56, -1, "RESERVE(10)", u(0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0), none, ControlCommands::reserve);
        add(0x57, -1, "RELEASE(10)", u(0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0), CONFLICT_EXEMPT, ControlCommands::release);
        String[] prIn = {"READ KEYS", "READ RESERVATION", "REPORT CAPABILITIES", "READ FULL STATUS"};
        for (int sa = 0; sa < prIn.length; sa++) {
            add(0x5e, sa, "PERSISTENT RESERVE IN / " + prIn[sa], u(0x5e, sa, 0, 0, 0, 0, 0, h, h, 0), DATA_IN,
                    PrCommands::in);
        }
        String[] prOut = {"REGISTER", "RESERVE", "RELEASE", "CLEAR", "PREEMPT", "PREEMPT AND ABORT",
            "REGISTER AND IGNORE EXISTING KEY"};
        for (int sa = 0; sa < prOut.length; sa++) {
            add(0x5f, sa, "PERSISTENT RESERVE OUT / " + prOut[sa], u(0x5f, sa, h, 0, 0, h, h, h, h, 0), DATA_OUT,
                    PrCommands::out);
        }
        add(0x5f, 7, "PERSISTENT RESERVE OUT / REGISTER AND MOVE", u(0x5f, 7, h, 0, 0, h, h, h, h, 0), DATA_OUT,
                PrCommands::out);
        add(0x5a, -1, "MODE SENSE(10)", u(0x5a, 0x18, h, h, 0, 0, 0, h, h, 0), READS | DATA_IN, ModePages::sense);
        add(0x83, ThirdPartyCopy.SA_EXTENDED_COPY_LID1, "EXTENDED COPY(LID1)",
                u(0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, h, h, h, h, 0, 0), WRITES | DATA_OUT, ThirdPartyCopy::extendedCopy);
        add(0x83, ThirdPartyCopy.SA_POPULATE_TOKEN, "POPULATE TOKEN",
                u(0x83, 0x10, 0, 0, 0, 0, h, h, h, h, h, h, h, h, 0x1f, 0), READS | DATA_OUT, ThirdPartyCopy::populateToken);
        add(0x83, ThirdPartyCopy.SA_WRITE_USING_TOKEN, "WRITE USING TOKEN",
                u(0x83, 0x11, 0, 0, 0, 0, h, h, h, h, h, h, h, h, 0x1f, 0), WRITES | DATA_OUT,
                ThirdPartyCopy::writeUsingToken);
        add(0x84, ThirdPartyCopy.SA_COPY_STATUS, "RECEIVE COPY RESULTS / COPY STATUS",
                u(0x84, 0x00, h, 0, 0, 0, 0, 0, 0, 0, h, h, h, h, 0, 0), DATA_IN, ThirdPartyCopy::receiveCopyResults);
        add(0x84, ThirdPartyCopy.SA_OPERATING_PARAMETERS, "RECEIVE COPY RESULTS / OPERATING PARAMETERS",
                u(0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, h, h, h, h, 0, 0), DATA_IN, ThirdPartyCopy::receiveCopyResults);
        add(0x84, ThirdPartyCopy.SA_FAILED_SEGMENT_DETAILS, "RECEIVE COPY RESULTS / FAILED SEGMENT DETAILS",
                u(0x84, 0x04, h, 0, 0, 0, 0, 0, 0, 0, h, h, h, h, 0, 0), DATA_IN, ThirdPartyCopy::receiveCopyResults);
        add(0x84, ThirdPartyCopy.SA_RECEIVE_ROD_TOKEN_INFORMATION, "RECEIVE ROD TOKEN INFORMATION",
                u(0x84, 0x07, h, h, h, h, 0, 0, 0, 0, h, h, h, h, 0, 0), DATA_IN, ThirdPartyCopy::receiveCopyResults);
        add(0x88, -1, "READ(16)", u(0x88, 0x1a, h, h, h, h, h, h, h, h, h, h, h, h, 0x1f, 0), READS | DATA_IN,
                BlockCommands::read);
        add(0x89, -1, "COMPARE AND WRITE", u(0x89, 0x18, h, h, h, h, h, h, h, h, 0, 0, 0, h, 0x1f, 0), WRITES | DATA_OUT,
                BlockCommands::compareAndWrite);
        add(0x8a, -1, "WRITE(16)", u(0x8a, 0x1a, h, h, h, h, h, h, h, h, h, h, h, h, 0x1f, 0), WRITES | DATA_OUT,
                BlockCommands::write);
        add(0x8b, -1, "ORWRITE(16)", u(0x8b, 0x18, h, h, h, h, h, h, h, h, h, h, h, h, 0x1f, 0), WRITES | DATA_OUT,
                BlockCommands::orWrite);
        add(0x8e, -1, "WRITE AND VERIFY(16)", u(0x8e, 0x12, h, h, h, h, h, h, h, h, h, h, h, h, 0x1f, 0), WRITES | DATA_OUT,
                BlockCommands::writeAndVerify);
        add(0x8f, -1, "VERIFY(16)", u(0x8f, 0x16, h, h, h, h, h, h, h, h, h, h, h, h, 0x1f, 0), READS,
                BlockCommands::verify);
        add(0x90, -1, "PRE-FETCH(16)", u(0x90, 0x02, h, h, h, h, h, h, h, h, h, h, h, h, 0x1f, 0), READS,
                BlockCommands::preFetch);
        add(0x91, -1, "SYNCHRONIZE CACHE(16)", u(0x91, 0x02, h, h, h, h, h, h, h, h, h, h, h, h, 0x1f, 0), WRITES,
                BlockCommands::synchronizeCache);
        add(0x93, -1, "WRITE SAME(16)", u(0x93, 0x09, h, h, h, h, h, h, h, h, h, h, h, h, 0x1f, 0), WRITES | DATA_OUT,
                BlockCommands::writeSame);
        add(0x9e, 0x10, "READ CAPACITY(16)", u(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, h, h, h, h, 0, 0), DATA_IN,
                BlockCommands::readCapacity16);
        add(0x9e, 0x12, "GET LBA STATUS", u(0x9e, 0x12, h, h, h, h, h, h, h, h, h, h, h, h, 0, 0), READS | DATA_IN,
                BlockCommands::getLbaStatus);
        add(0xa0, -1, "REPORT LUNS", u(0xa0, 0, h, 0, 0, 0, h, h, h, h, 0, 0), exempt | DATA_IN, ControlCommands::reportLuns);
        add(0xa3, 0x0a, "REPORT TARGET PORT GROUPS", u(0xa3, 0xea, 0, 0, 0, 0, h, h, h, h, 0, 0), CONFLICT_EXEMPT | DATA_IN,
                TargetPortGroups::report);
        add(0xa3, 0x0c, "REPORT SUPPORTED OPERATION CODES", u(0xa3, 0x0c, 0x87, h, h, h, h, h, h, h, 0, 0), DATA_IN,
                ControlCommands::reportSupportedOpcodes);
        add(0xa8, -1, "READ(12)", u(0xa8, 0x1a, h, h, h, h, h, h, h, h, 0x1f, 0), READS | DATA_IN, BlockCommands::read);
        add(0xaa, -1, "WRITE(12)", u(0xaa, 0x1a, h, h, h, h, h, h, h, h, 0x1f, 0), WRITES | DATA_OUT, BlockCommands::write);
        add(0xae, -1, "WRITE AND VERIFY(12)", u(0xae, 0x12, h, h, h, h, h, h, h, h, 0x1f, 0), WRITES | DATA_OUT,
                BlockCommands::writeAndVerify);
        add(0xaf, -1, "VERIFY(12)", u(0xaf, 0x16, h, h, h, h, h, h, h, h, 0x1f, 0), READS, BlockCommands::verify);
        add(0xb7, -1, "READ DEFECT DATA(12)", u(0xb7, 0x1f, 0, 0, 0, 0, h, h, h, h, 0, 0), READS | DATA_IN,
                ControlCommands::readDefectData);
    }

    private static byte[] u(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return b;
    }

    void add(int opcode, int sa, String name, byte[] usage, int flags, CommandSpec.Parser parser) {
        CommandSpec s = new CommandSpec(opcode, sa, name, usage, flags, parser);
        slots.get(opcode).add(s);
        all.add(s);
    }

    /** Every entry in opcode, service action order. */
    List<CommandSpec> all() {
        List<CommandSpec> sorted = new ArrayList<>(all);
        sorted.sort(Comparator.comparingInt(CommandSpec::opcode).thenComparingInt(CommandSpec::serviceAction));
        return Collections.unmodifiableList(sorted);
    }

    boolean hasServiceActions(int opcode) {
        List<CommandSpec> slot = slots.get(opcode & 0xff);
        return !slot.isEmpty() && slot.get(0).serviceAction() >= 0;
    }

    /** The entry for opcode (and service action, if the opcode has them), or null. */
    CommandSpec find(int opcode, int sa) {
        for (CommandSpec s : slots.get(opcode & 0xff)) {
            if (s.serviceAction() < 0 || s.serviceAction() == sa) {
                return s;
            }
        }
        return null;
    }

    /** Looks up a CDB: INVALID COMMAND OPERATION CODE or INVALID FIELD IN CDB when absent. */
    CommandSpec lookup(byte[] cdb) {
        int opcode = cdb[0] & 0xff;
        List<CommandSpec> slot = slots.get(opcode);
        if (slot.isEmpty()) {
            throw SenseReason.INVALID_COMMAND_OPERATION_CODE.ex();
        }
        if (slot.get(0).serviceAction() < 0) {
            return slot.get(0);
        }
        int sa = cdb.length > 1 ? cdb[1] & 0x1f : -1;
        CommandSpec s = find(opcode, sa);
        if (s == null) {
            throw SenseException.cdb(1, 4);
        }
        return s;
    }
}
