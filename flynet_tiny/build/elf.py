"""Arm ELF files (linked firmware, objects, and the members of `.a` archives) read with pyelftools:
sections, symbols, relocations, the FPU attribute, and section sizes. One reader for the build, fit and
sim stages, instead of parsing the text of nm, readelf, objdump and size.

    with open_elf(path) as elf: ...                 # an ELFFile; FlynetError if the file is not an ELF
    defined_symbols(path)                           # [Symbol]: what `nm` lists (defined, named, no $t/$d)
    archive_members(path)                           # [(member name, bytes)] of a GNU ar archive
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.descriptions import describe_reloc_type
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from ..errors import FlynetError

# Tag_FP_arch values (ARM ELF ABI addenda) with the names readelf gives them.
FP_ARCH_NAMES = {0: "none", 1: "VFPv1", 2: "VFPv2", 3: "VFPv3", 4: "VFPv3-D16", 5: "VFPv4", 6: "VFPv4-D16",
                 7: "FP for ARMv8", 8: "FPv5/FP-D16 for ARMv8"}
_SPECIAL_SECTIONS = {"SHN_UNDEF", "SHN_ABS", "SHN_COMMON"}


@contextlib.contextmanager
def open_elf(path: Path | str, data: bytes | None = None,
             hint: str = "pass the firmware.elf of `flynet-tiny build`") -> Iterator[ELFFile]:
    """The ELF at `path` (or its bytes in `data`, e.g. an archive member named `path`); FlynetError with
    `hint` when it is not an ELF file."""
    try:
        stream = io.BytesIO(data) if data is not None else open(path, "rb")
    except OSError as exc:
        raise FlynetError(f"cannot read {path}: {exc.strerror}; {hint}") from None
    with stream:
        try:
            yield ELFFile(stream)
        except ELFError as exc:  # not an ELF, or a truncated / corrupt one found while reading it
            raise FlynetError(f"{path} is not a readable ELF file ({exc}): {hint}") from None


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    kind: str  # SHT_PROGBITS, SHT_NOBITS, ...
    size: int
    address: int
    align: int
    allocated: bool  # SHF_ALLOC: takes memory on the target
    writable: bool
    executable: bool

    @property
    def nobits(self) -> bool:
        return self.kind == "SHT_NOBITS"


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    size: int
    kind: str  # STT_FUNC, STT_OBJECT, STT_NOTYPE, ...
    bind: str  # STB_GLOBAL, STB_LOCAL, STB_WEAK
    section: str | None  # the defining section's name; None when undefined, absolute or common
    defined: bool


def _raw_sections(elf: ELFFile) -> list:
    """pyelftools' section objects, parsed once per file (each lookup by index or name parses again)."""
    cached = getattr(elf, "_flynet_sections", None)
    if cached is None:
        cached = list(elf.iter_sections())
        elf._flynet_sections = cached
    return cached


def sections(elf: ELFFile) -> list[Section]:
    out = []
    for index, section in enumerate(_raw_sections(elf)):
        flags = section["sh_flags"]
        out.append(Section(index, section.name, section["sh_type"], section["sh_size"], section["sh_addr"],
                           section["sh_addralign"], bool(flags & SH_FLAGS.SHF_ALLOC),
                           bool(flags & SH_FLAGS.SHF_WRITE), bool(flags & SH_FLAGS.SHF_EXECINSTR)))
    return out


def _symbol_table(elf: ELFFile) -> SymbolTableSection | None:
    return next((s for s in _raw_sections(elf) if isinstance(s, SymbolTableSection) and s.name == ".symtab"), None)


def symbols(elf: ELFFile) -> list[Symbol]:
    """Every entry of the symbol table (.symtab), the null entry left out."""
    table = _symbol_table(elf)
    if table is None:
        return []
    names = [s.name for s in _raw_sections(elf)]
    out = []
    for number, symbol in enumerate(table.iter_symbols()):
        if number == 0:
            continue
        index = symbol["st_shndx"]
        in_section = isinstance(index, int) and 0 < index < len(names)
        out.append(Symbol(symbol.name, symbol["st_value"], symbol["st_size"], symbol["st_info"]["type"],
                          symbol["st_info"]["bind"], names[index] if in_section else None,
                          index != "SHN_UNDEF"))
    return out


def is_listed(symbol: Symbol) -> bool:
    """What nm lists as a defined symbol: named, not a section / file symbol, not an Arm mapping symbol
    ($a, $t, $d mark code and data)."""
    return (symbol.defined and bool(symbol.name) and not symbol.name.startswith("$")
            and symbol.kind not in ("STT_SECTION", "STT_FILE"))


def defined_symbols(path: Path | str) -> list[Symbol]:
    with open_elf(path) as elf:
        return [s for s in symbols(elf) if is_listed(s)]


def relocations(elf: ELFFile) -> dict[str, list[tuple[str, str]]]:
    """Section name -> [(relocation type, symbol name)]; a section symbol is named by its section, as readelf
    does; relocations without a symbol are left out."""
    table = _symbol_table(elf)
    names = [s.name for s in _raw_sections(elf)]
    # Each relocation names its symbol by number: the names once, not one symbol parse per relocation.
    symbol_names = []
    for symbol in table.iter_symbols() if table is not None else ():
        section = symbol["st_shndx"]
        by_section = symbol["st_info"]["type"] == "STT_SECTION" and isinstance(section, int)
        symbol_names.append(names[section] if by_section else symbol.name)
    kinds: dict[int, str] = {}
    out: dict[str, list[tuple[str, str]]] = {}
    for section in _raw_sections(elf):
        if not isinstance(section, RelocationSection):
            continue
        entries = out.setdefault(names[section["sh_info"]], [])
        for relocation in section.iter_relocations():
            number, kind = relocation["r_info_sym"], relocation["r_info_type"]
            if number == 0 or number >= len(symbol_names) or not symbol_names[number]:
                continue
            if kind not in kinds:
                kinds[kind] = describe_reloc_type(kind, elf)
            entries.append((kinds[kind], symbol_names[number]))
    return out


def fp_arch(elf: ELFFile) -> str | None:
    """The Tag_FP_arch build attribute in readelf's words (e.g. "FPv5/FP-D16 for ARMv8"), None without one."""
    attributes = next((s for s in _raw_sections(elf) if s.name == ".ARM.attributes"), None)
    if attributes is None:
        return None
    for subsection in attributes.iter_subsections():
        for subsubsection in subsection.iter_subsubsections():
            for attribute in subsubsection.iter_attributes():
                if attribute.tag == "TAG_FP_ARCH":
                    return FP_ARCH_NAMES.get(attribute.value, f"FP arch {attribute.value}")
    return None


@dataclass(frozen=True)
class SectionSizes:
    """Berkeley `size` columns: text = allocated read-only (code and constants), data = allocated writable with
    contents, bss = allocated without contents."""

    text: int
    data: int
    bss: int


def section_sizes(all_sections: list[Section]) -> SectionSizes:
    text = data = bss = 0
    for section in all_sections:
        if not section.allocated:
            continue
        if section.nobits:
            bss += section.size
        elif section.writable:
            data += section.size
        else:
            text += section.size
    return SectionSizes(text, data, bss)


def load_address(elf: ELFFile, section_index: int) -> int:
    """Where a section's bytes are loaded (its LMA), from the program header holding it; its address if none."""
    section = _raw_sections(elf)[section_index]
    for segment in elf.iter_segments():
        if segment["p_type"] == "PT_LOAD" and segment.section_in_segment(section):
            return segment["p_paddr"] + section["sh_addr"] - segment["p_vaddr"]
    return section["sh_addr"]


def archive_members(path: Path | str) -> list[tuple[str, bytes]]:
    """The members of a GNU / System V `ar` archive (libc_nano.a, libgcc.a, libflynet.a), symbol table left out."""
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise FlynetError(f"{path} is not an ar archive")
    members, long_names, offset = [], b"", 8
    while offset + 60 <= len(data):
        header = data[offset:offset + 60]
        name, size = header[:16].decode().rstrip(), int(header[48:58].decode())
        body = data[offset + 60:offset + 60 + size]
        offset += 60 + size + (size & 1)  # members are 2-byte aligned
        if name in ("/", "/SYM64/"):  # the archive's symbol index
            continue
        if name == "//":
            long_names = body
            continue
        if name.startswith("/") and name[1:].isdigit():
            start = int(name[1:])
            name = long_names[start:long_names.index(b"/\n", start)].decode()
        else:
            name = name.rstrip("/")
        members.append((name, body))
    return members
