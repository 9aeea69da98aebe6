package io.orion.dedup.cli;

import io.orion.dedup.config.ByteSize;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** A byte size on the command line: {@code 16GiB}, {@code 512M}, {@code 1073741824}. */
record SizeArg(long bytes) {

    /** picocli converter. */
    static final class Converter implements ITypeConverter<SizeArg> {
        @Override
        public SizeArg convert(String value) {
            try {
                return new SizeArg(ByteSize.parse(value));
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("'" + value + "' is " + e.getMessage());
            }
        }
    }
}
