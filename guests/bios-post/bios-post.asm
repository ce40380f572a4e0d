; bios-post.asm - hilrun reference guest "bios-post", version 1.
;
; A 1.44 MB floppy image (nasm -f bin). It checks what a graphics card shows
; through the legacy BIOS path, reporting every step on COM1 in the format of
; docs/report-protocol.md:
;   1. hello, then "post hold" while the firmware's screen (SeaBIOS banner,
;      the card's VGA BIOS sign-on) is still untouched;
;   2. PCI display devices (base class 03h) found through the PCI BIOS;
;   3. text mode 3 drawn through the card's own video BIOS (int 10h), each
;      line also reported, then "text hold";
;   4. a calibration screen: every code 0-255 in a known grid and colour,
;      "calib show" with its layout, then "calib hold";
;   5. graphics: the card's VBE BIOS (4F00h, "graphics vbe"), its mode list
;      walked with 4F01h ("graphics modes"), the best direct-colour mode with
;      a linear framebuffer set with 4F02h (640x480x32, 640x480x16,
;      800x600x32, 800x600x16, in that order; "graphics set"), or mode 13h
;      (320x200x8) when there is no VBE, no such mode or 4F02h fails
;      (then "graphics error" comes first); then the test pattern of
;      docs/graphics-pattern.md with a per-run code from RDTSC, "graphics
;      show", and "graphics hold";
;   6. "end exit code=16" and a write to isa-debug-exit (QEMU exits with 33).
;
; Layout: sector 1 is the boot sector (loaded by the BIOS at 0000:7C00); it
; holds the serial routines and loads the rest (stage 2) to 0000:7E00, right
; behind itself, so the whole file is assembled with one origin.
; Real mode, 16-bit code; 32-bit registers are used for PCI dwords (386+).
; The framebuffer, usually far above 1 MB, is written in "unreal mode": FS
; gets a 4 GiB limit in a brief trip through protected mode (unreal_fs) and
; is then used with 32-bit addresses; A20 is opened through port 92h first.
; STAGE2_SECTORS follows the code's size (at most 17 sectors, checked here).
;
; Test builds: NASM defines, off by default, build images for negative
; tests of the runner. -DINSIST_WIDTH=W -DINSIST_HEIGHT=H -DINSIST_BPP=B
; (all three; B 16 or 32) takes only a VBE mode of exactly WxHxB (with a
; linear framebuffer, direct colour) and never falls back to mode 13h: with
; no such mode (or no VBE) it reports "graphics error reason=no-mode
; width=W height=H bpp=B" and goes on to "end" with no pattern, no show and
; no hold (after a failed 4F02h, the set-mode error, then "end" likewise).
; -DWRONG_CODE draws the pattern with the code XOR FFFF0000h but reports the
; real code in "graphics show": a frame that is not this run's pattern.
; -DHANG_AFTER_POST hangs for good (interrupts off, HLT in a loop) right
; after "post hold" is acked or times out: nothing more on COM1, the
; firmware's screen untouched, no exit. -DHANG_IN_GRAPHICS hangs the same
; way once the graphics mode is set and the pattern fully drawn, before
; "graphics show": the screen shows the pattern, COM1 falls silent after
; "graphics set". -DPANIC_AFTER_POST, right after "post hold", reports a
; panic the way a guest kernel does through QEMU's pvpanic device (1 to
; I/O port 0x505), then hangs. -DRESET_AFTER_POST, at the same point,
; resets the machine through the keyboard controller (0FEh to port 64h)
; without announcing it.

bits 16
cpu 386
org 0x7C00

; ---------------------------------------------------------------------------
; Constants
; ---------------------------------------------------------------------------

%define PFX "HILRUN/1 "            ; every report line starts with this

%define EXIT_CODE 16               ; isa-debug-exit: QEMU exits with 16*2+1 = 33
%defstr EXIT_CODE_STR EXIT_CODE
DEBUG_EXIT_PORT equ 0xF4
PVPANIC_PORT equ 0x505             ; QEMU's ISA pvpanic device (test builds)

COM1        equ 0x3F8
UART_DATA   equ COM1 + 0           ; RBR/THR (DLAB=0), DLL (DLAB=1)
UART_IER    equ COM1 + 1           ; IER (DLAB=0), DLM (DLAB=1)
UART_FCR    equ COM1 + 2
UART_LCR    equ COM1 + 3
UART_MCR    equ COM1 + 4
UART_LSR    equ COM1 + 5
LSR_DR      equ 0x01               ; a received byte is waiting
LSR_THRE    equ 0x20               ; transmit holding register empty
LSR_TEMT    equ 0x40               ; transmitter completely empty
DRAIN_MAX   equ 256                ; bound on bytes discarded per drain

BIOS_TICKS  equ 0x046C             ; 0040:006C as 0000:046C, low word of the tick count
HOLD_TICKS  equ 546                ; 30 s at 18.2065 ticks/s

LOAD_TRIES  equ 5                  ; int 13h read attempts (floppies may need a reset)
FLOPPY_SPT  equ 18                 ; sectors per track of a 1.44 MB floppy

TEXT_ATTR   equ 0x07               ; light grey on black
TEXT_COLS   equ 80                 ; mode 3 is 80x25; longer lines are clipped
CALIB_ROW   equ 4                  ; the calibration grid: 16 rows of 16 codes,
CALIB_COL   equ 8                  ; every other column, from (CALIB_ROW, CALIB_COL)
CALIB_ATTR  equ 0x1F               ; bright white on blue
%define CALIB_ROW_STR "4"
%define CALIB_COL_STR "8"
PCI_SHOW_MAX equ 8                 ; at most this many device lines on screen
PCI_ENTRY   equ 8                  ; bytes per pci_table entry (see pci_scan)

VBE_OK      equ 0x004F             ; AX after a successful VBE call
VBE_MODES_MAX equ 1024             ; bound on the mode list walk (0FFFFh ends it)
VBE_LFB     equ 0x4000             ; 4F02h: BX bit 14 selects the linear framebuffer
MA_WANTED   equ 0x0091             ; mode attributes: supported (0), graphics (4), LFB (7)
MM_PACKED   equ 4                  ; memory models in the mode info block
MM_DIRECT   equ 6
%if %isdef(INSIST_WIDTH) || %isdef(INSIST_HEIGHT) || %isdef(INSIST_BPP)
 %if !(%isdef(INSIST_WIDTH) && %isdef(INSIST_HEIGHT) && %isdef(INSIST_BPP))
  %error "INSIST_WIDTH, INSIST_HEIGHT and INSIST_BPP go together"
 %elif INSIST_BPP != 16 && INSIST_BPP != 32
  %error "INSIST_BPP must be 16 or 32"
 %elif INSIST_WIDTH < 1 || INSIST_WIDTH > 0xFFFF || INSIST_HEIGHT < 1 || INSIST_HEIGHT > 0xFFFF
  %error "INSIST_WIDTH and INSIST_HEIGHT must be 1 to 65535"
 %endif
 %define INSIST                    ; test build: that mode or none (header)
%endif
; VBE controller info block (4F00h)
VBEI_SIG    equ 0x00               ; "VESA" (we pass "VBE2" in)
VBEI_VERSION equ 0x04              ; BCD, e.g. 0300h
VBEI_MODES  equ 0x0E               ; far pointer (offset, segment) to the mode list
; VBE mode info block (4F01h)
VBEM_ATTR   equ 0x00               ; word: mode attributes
VBEM_PITCH  equ 0x10               ; word: BytesPerScanLine
VBEM_WIDTH  equ 0x12               ; word: XResolution
VBEM_HEIGHT equ 0x14               ; word: YResolution
VBEM_BPP    equ 0x19               ; byte: BitsPerPixel
VBEM_MODEL  equ 0x1B               ; byte: MemoryModel
VBEM_RED    equ 0x1F               ; bytes: Red MaskSize, FieldPosition, then the
VBEM_GREEN  equ 0x21               ;   same for green and blue
VBEM_BLUE   equ 0x23
VBEM_BASE   equ 0x28               ; dword: PhysBasePtr
VBEM_LINPITCH equ 0x32             ; word: LinBytesPerScanLine (VBE 3.0)
; The pattern (docs/graphics-pattern.md): 16 x 12 blocks; colours as RGB bits
PAT_COLS    equ 16
PAT_ROWS    equ 12
C_BLACK     equ 0
C_BLUE      equ 1
C_GREEN     equ 2
C_CYAN      equ 3
C_RED       equ 4
C_MAGENTA   equ 5
C_YELLOW    equ 6
C_WHITE     equ 7
MODE13_BASE equ 0xA0000            ; mode 13h: 320x200, one byte per pixel
GDT_CODE16  equ 0x08               ; selectors of unreal_gdt
GDT_DATA4G  equ 0x10

; ===========================================================================
; Sector 1: boot sector
; ===========================================================================

boot:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00             ; stack grows down below the boot sector
        jmp 0x0000:.flat           ; some BIOSes enter at 07C0:0000; make CS=0
.flat:
        sti                        ; the BIOS tick counter needs IRQ0
        cld
        mov [boot_drive], dl       ; int 13h drive number as given by the BIOS

        ; The hello line goes out before anything else, so a failed load
        ; below is still attributed to this guest.
        call serial_init
        mov si, msg_hello
        call serial_puts

        ; Load stage 2: sectors 2.. of cylinder 0, head 0, to 0000:7E00.
        mov di, LOAD_TRIES
.read:
        mov ax, 0x0200 + STAGE2_SECTORS ; AH=02h read, AL=sector count
        mov bx, stage2             ; ES:BX = 0000:7E00
        mov cx, 0x0002             ; CH=cylinder 0, CL=sector 2
        xor dh, dh                 ; head 0
        mov dl, [boot_drive]
        int 0x13
        jnc main
        xor ah, ah                 ; AH=00h reset the drive, then retry
        mov dl, [boot_drive]
        int 0x13
        dec di
        jnz .read

        ; Could not load: say so and end the VM with exit code 1 (status 3).
        mov si, msg_load_failed
        call serial_puts
        mov al, 1
        jmp exit_vm

; serial_init: COM1 at 115200 8N1, FIFOs on, no UART interrupts (we poll).
serial_init:
        push ax
        push dx
        mov dx, UART_IER
        xor al, al
        out dx, al
        mov dx, UART_LCR
        mov al, 0x80               ; DLAB=1 exposes the divisor latch
        out dx, al
        mov dx, UART_DATA          ; DLL: divisor 1 = 115200 baud
        mov al, 1
        out dx, al
        mov dx, UART_IER           ; DLM
        xor al, al
        out dx, al
        mov dx, UART_LCR
        mov al, 0x03               ; 8 data bits, no parity, 1 stop, DLAB=0
        out dx, al
        mov dx, UART_FCR
        mov al, 0xC7               ; enable and clear both FIFOs
        out dx, al
        mov dx, UART_MCR
        mov al, 0x03               ; DTR, RTS (OUT2 stays off: no IRQ)
        out dx, al
        pop dx
        pop ax
        ret

; serial_putc: send AL on COM1 (waits for room in the transmitter).
serial_putc:
        push dx
        push ax
        mov dx, UART_LSR
.wait:
        in al, dx
        test al, LSR_THRE
        jz .wait
        pop ax
        mov dx, UART_DATA
        out dx, al
        pop dx
        ret

; serial_puts: send the NUL-terminated string at DS:SI.
serial_puts:
        push ax
        push si
.next:
        lodsb
        test al, al
        jz .done
        call serial_putc
        jmp .next
.done:
        pop si
        pop ax
        ret

; exit_vm: wait until COM1 has sent everything, write AL to isa-debug-exit
; (QEMU exits with status AL*2+1). Without that device, halt for good.
exit_vm:
        mov ah, al
        mov dx, UART_LSR
.flush:
        in al, dx
        test al, LSR_TEMT          ; the last report line must leave the UART
        jz .flush
        mov al, ah
        out DEBUG_EXIT_PORT, al
.halt:
        cli
        hlt
        jmp .halt

boot_drive:      db 0
msg_hello:       db PFX, "guest hello name=bios-post version=1", 13, 10, 0
msg_load_failed: db PFX, "guest error reason=disk-read", 13, 10
                 db PFX, "end exit code=1", 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55

; ===========================================================================
; Stage 2 (sectors 2..), loaded at 0000:7E00
; ===========================================================================

stage2:

main:
        ; (The hello line was sent by the boot sector.)
        ; The firmware's screen is still intact: let the runner look at it.
        mov si, msg_post_hold
        mov di, msg_post_timeout
        call hold
%ifdef PANIC_AFTER_POST
        mov dx, PVPANIC_PORT       ; test build: panic (header)
        mov al, 1                  ; PVPANIC_PANICKED
        out dx, al
%define HANG_AFTER_POST
%endif
%ifdef RESET_AFTER_POST
        mov al, 0xFE               ; test build: reset (header)
        out 0x64, al
%define HANG_AFTER_POST
%endif
%ifdef HANG_AFTER_POST
        cli                        ; test build: hang for good (header)
.hang:
        hlt
        jmp .hang
%endif

        ; PCI display devices, on COM1 and remembered for the screen.
        call pci_scan

        ; Text mode through the video BIOS.
        call text_screen

        ; Let the runner read the text screen.
        mov di, line_buf
        mov si, msg_text_hold
        call fmt_str
        mov ax, [rows_shown]
        call fmt_dec
        call fmt_eol
        mov si, line_buf
        mov di, msg_text_timeout
        call hold

        ; Calibration: every code 0-255 in a known grid and colour, so the
        ; runner can learn this card's own glyphs from its screen.
        call calib_screen
        mov si, msg_calib_show
        call serial_puts
        mov si, msg_calib_hold
        mov di, msg_calib_timeout
        call hold

        ; Graphics: the test pattern in a VBE linear-framebuffer mode (mode
        ; 13h when there is none), with this run's code, then "graphics hold".
        call graphics_stage

        ; Done: end the VM.
        mov si, msg_end
        call serial_puts
        mov al, EXIT_CODE
        jmp exit_vm

; ---------------------------------------------------------------------------
; Serial input
; ---------------------------------------------------------------------------

; serial_drain: discard received bytes (at most DRAIN_MAX, so a missing UART,
; whose LSR reads 0FFh, or a chatty line cannot keep us here).
serial_drain:
        push ax
        push cx
        push dx
        mov cx, DRAIN_MAX
.next:
        mov dx, UART_LSR
        in al, dx
        test al, LSR_DR
        jz .done
        mov dx, UART_DATA
        in al, dx
        loop .next
.done:
        pop dx
        pop cx
        pop ax
        ret

; hold: send the hold line at SI, then wait without touching the screen
; until any byte arrives on COM1 (the runner's ack) or HOLD_TICKS pass; on
; timeout send the line at DI. The ack and bytes sent with it are consumed.
hold:
        pusha
        call serial_drain          ; stale bytes must not count as this ack
        call serial_puts
        sti                        ; the tick counter only moves with IRQ0 on
        mov bx, [BIOS_TICKS]       ; BX = tick count last seen
        xor cx, cx                 ; CX = ticks elapsed
.wait:
        mov dx, UART_LSR
        in al, dx
        test al, LSR_DR
        jnz .acked
        ; Count elapsed ticks by differences, so neither the 16-bit wrap of
        ; the low word nor the reset to 0 at midnight can stop the timeout.
        mov ax, [BIOS_TICKS]
        sub ax, bx
        add bx, ax                 ; BX = now
        cmp ax, 0x8000
        jb .forward
        mov ax, 1                  ; went backwards: midnight reset, one tick
.forward:
        add cx, ax
        cmp cx, HOLD_TICKS
        jae .timeout
        hlt                        ; idle until the next interrupt (IRQ0 comes
        jmp .wait                  ; every 55 ms), rather than spinning
.acked:
        call serial_drain          ; consume the ack (e.g. "A" or "A\n")
        popa
        ret
.timeout:
        mov si, di
        call serial_puts
        popa
        ret

; ---------------------------------------------------------------------------
; Formatting into ES:DI (each routine advances DI, preserves other registers)
; ---------------------------------------------------------------------------

; fmt_str: copy the NUL-terminated string at DS:SI, without the NUL.
fmt_str:
        push ax
        push si
.next:
        lodsb
        test al, al
        jz .done
        stosb
        jmp .next
.done:
        pop si
        pop ax
        ret

; fmt_eol: append CR LF NUL, and leave DI on the NUL.
fmt_eol:
        push ax
        mov ax, 0x0A0D
        stosw
        mov byte [es:di], 0
        pop ax
        ret

; fmt_hex: append the low CX hex digits (1..8) of EDX, lowercase.
fmt_hex:
        push eax
        push bx
        push cx
        push edx
        mov ax, 8
        sub ax, cx
        shl ax, 2                  ; bits taken by the digits left out
        xchg ax, cx
        shl edx, cl                ; first wanted digit now in the top nibble
        mov cx, ax
.digit:
        rol edx, 4
        mov bx, dx
        and bx, 0x000F
        mov al, [hex_digits + bx]
        stosb
        loop .digit
        pop edx
        pop cx
        pop bx
        pop eax
        ret

; fmt_dec: append AX as an unsigned decimal number.
fmt_dec:
        push ax
        push bx
        push cx
        push dx
        mov bx, 10
        xor cx, cx
.divide:
        xor dx, dx
        div bx
        push dx                    ; digits come out least significant first
        inc cx
        test ax, ax
        jnz .divide
.emit:
        pop ax
        add al, '0'
        stosb
        loop .emit
        pop dx
        pop cx
        pop bx
        pop ax
        ret

; fmt_quoted: append the NUL-terminated string at DS:SI as a protocol quoted
; value: "..." with " and \ escaped. (Callers pass printable ASCII only.)
fmt_quoted:
        push ax
        push si
        mov al, '"'
        stosb
.next:
        lodsb
        test al, al
        jz .done
        cmp al, '"'
        je .escape
        cmp al, '\'
        jne .plain
.escape:
        mov ah, al
        mov al, '\'
        stosb
        mov al, ah
.plain:
        stosb
        jmp .next
.done:
        mov al, '"'
        stosb
        pop si
        pop ax
        ret

; fmt_bdf: append BX (bus<<8 | dev<<3 | fn) as "BB:DD.F".
fmt_bdf:
        push ax
        push cx
        push edx
        movzx edx, bh              ; bus
        mov cx, 2
        call fmt_hex
        mov al, ':'
        stosb
        movzx edx, bl
        shr dx, 3                  ; device
        call fmt_hex
        mov al, '.'
        stosb
        movzx edx, bl
        and dx, 7                  ; function
        mov cx, 1
        call fmt_hex
        pop edx
        pop cx
        pop ax
        ret

; ---------------------------------------------------------------------------
; PCI
; ---------------------------------------------------------------------------

; pci_read: ECX = config dword at register DI of BX (bus<<8 | devfn), via
; PCI BIOS B10Ah. On a BIOS error ECX = FFFFFFFFh, which reads as "absent".
pci_read:
        push ax
        mov ax, 0xB10A
        int 0x1A
        jc .fail
        test ah, ah
        jz .done
.fail:
        mov ecx, 0xFFFFFFFF
.done:
        pop ax
        ret

; pci_function: look at function BX. CF set if nothing is there. A display
; device (base class 03h) is reported on COM1 and, while there is room,
; remembered in pci_table for the screen.
pci_function:
        pushad
        xor di, di                 ; 00h: device id << 16 | vendor id
        call pci_read
        cmp cx, 0xFFFF
        je .absent
        mov ebp, ecx               ; EBP = ids
        mov di, 0x08               ; 08h: class << 8 | revision
        call pci_read
        shr ecx, 8                 ; ECX = base << 16 | sub << 8 | prog-if
        mov eax, ecx
        shr eax, 16
        cmp al, 0x03
        jne .present

        ; Remember it: bdf, vendor, device, base<<8|sub (word each).
        mov ax, [pci_count]
        cmp ax, PCI_SHOW_MAX
        jae .report
        shl ax, 3                  ; * PCI_ENTRY
        mov si, ax
        mov [pci_table + si + 0], bx
        mov [pci_table + si + 2], bp
        mov eax, ebp
        shr eax, 16
        mov [pci_table + si + 4], ax
        mov edx, ecx
        shr edx, 8
        mov [pci_table + si + 6], dx
.report:
        ; "pci display bdf=BB:DD.F id=vvvv:dddd class=ccccss"
        mov di, line_buf
        mov si, msg_pci_display
        call fmt_str
        call fmt_bdf
        mov si, msg_pci_id
        call fmt_str
        mov edx, ecx               ; class, before CX is reused below
        push edx
        movzx edx, bp              ; vendor
        mov cx, 4
        call fmt_hex
        mov al, ':'
        stosb
        mov edx, ebp
        shr edx, 16                ; device
        call fmt_hex
        mov si, msg_pci_class
        call fmt_str
        pop edx
        mov cx, 6
        call fmt_hex
        call fmt_eol
        mov si, line_buf
        call serial_puts
        inc word [pci_count]
.present:
        popad
        clc
        ret
.absent:
        popad
        stc
        ret

; pci_scan: report every display device behind the PCI BIOS, bus 0 to the
; last bus it names, 32 devices each, functions 1..7 only on multi-function
; devices, so the scan costs a few dozen BIOS calls on a QEMU "pc".
pci_scan:
        pushad
        mov word [pci_count], 0
        mov ax, 0xB101             ; installation check
        xor edi, edi               ; some BIOSes expect EDI=0 here
        int 0x1A
        jc .no_bios
        test ah, ah
        jnz .no_bios
        cmp edx, 0x20494350        ; "PCI "
        jne .no_bios
        mov [pci_last_bus], cl

        xor bx, bx                 ; BH=bus 0, BL=device 0, function 0
.device:
        call pci_function
        jc .next_device
        mov di, 0x0C               ; 0Ch: bist, header type, latency, cache line
        call pci_read
        test ecx, 0x00800000       ; header type bit 7: multi-function
        jz .next_device
.function:
        inc bl
        test bl, 7
        jz .device_done            ; function 7 done
        call pci_function
        jmp .function
.device_done:
        sub bl, 8                  ; back to function 0 of this device
.next_device:
        and bl, 0xF8
        add bl, 8
        jnc .device                ; carry: device 31 done
        cmp bh, [pci_last_bus]
        jae .done
        inc bh
        jmp .device

.done:
        mov di, line_buf
        mov si, msg_pci_done
        call fmt_str
        mov ax, [pci_count]
        call fmt_dec
        call fmt_eol
        mov si, line_buf
        call serial_puts
        popad
        ret

.no_bios:
        mov si, msg_pci_none
        call serial_puts
        popad
        ret

; ---------------------------------------------------------------------------
; Text screen
; ---------------------------------------------------------------------------

; video_print_at: write the NUL-terminated string at SI on row DH from column
; 0 in TEXT_ATTR, one character at a time with int 10h AH=02h (set cursor) and
; AH=09h (write character and attribute): the card's own VGA BIOS draws it.
video_print_at:
        pusha
        xor dl, dl
.next:
        lodsb
        test al, al
        jz .done
        push ax
        mov ah, 0x02               ; set cursor position DH,DL on page BH=0
        xor bh, bh
        int 0x10
        pop ax
        mov ah, 0x09               ; write AL with attribute BL, CX times
        xor bh, bh
        mov bl, TEXT_ATTR
        mov cx, 1
        int 0x10
        inc dl
        jmp .next
.done:
        popa
        ret

; calib_screen: clear the screen, then write code N (0-255) at row
; CALIB_ROW + N / 16, column CALIB_COL + (N % 16) * 2, in CALIB_ATTR, with
; int 10h AH=09h (which draws every code, control codes included). The blank
; cell right of each code gives the runner the background colour.
calib_screen:
        pusha
        mov ax, 0x0600             ; scroll up 0 lines = clear the window
        mov bh, 0x07
        xor cx, cx
        mov dx, 0x184f             ; rows 0-24, columns 0-79
        int 0x10
        xor si, si                 ; SI = code
.next:
        mov ax, si
        mov dh, al
        shr dh, 4
        add dh, CALIB_ROW
        mov dl, al
        and dl, 0x0f
        shl dl, 1
        add dl, CALIB_COL
        mov ah, 0x02               ; set cursor position DH,DL on page 0
        xor bh, bh
        int 0x10
        mov ax, si
        mov ah, 0x09               ; write AL with attribute BL, once
        xor bh, bh
        mov bl, CALIB_ATTR
        mov cx, 1
        int 0x10
        inc si
        cmp si, 256
        jb .next
        popa
        ret

; show_line: put the string at SI on screen row DH and report it as
; "text line row=R text=...". The string is first made safe into show_buf
; (clipped to TEXT_COLS, anything not printable ASCII shown as '?'), so that
; the screen and the report always carry the same characters, and the report
; stays far below the 512-byte line limit (at most 2*80 + 40 bytes).
show_line:
        pusha
        mov di, show_buf
        mov cx, TEXT_COLS
.copy:
        lodsb
        test al, al
        jz .copied
        cmp al, 0x20
        jb .unprintable
        cmp al, 0x7E
        jbe .store
.unprintable:
        mov al, '?'
.store:
        stosb
        loop .copy
.copied:
        mov byte [di], 0

        mov si, show_buf
        call video_print_at

        mov di, line_buf
        mov si, msg_text_line
        call fmt_str
        movzx ax, dh
        call fmt_dec
        mov si, msg_text_key
        call fmt_str
        mov si, show_buf
        call fmt_quoted
        call fmt_eol
        mov si, line_buf
        call serial_puts

        inc word [rows_shown]
        popa
        ret

; text_screen: mode 3, cursor hidden, then the lines of the bios-post text
; check: title (row 0), subtitle (row 2), devices from row 4, a blank row,
; and the closing line.
text_screen:
        pusha
        mov word [rows_shown], 0
        mov ax, 0x0003             ; set mode 3 (80x25 text); clears the screen
        int 0x10
        mov ah, 0x01               ; cursor shape: CH bit 5 hides it, so the
        mov cx, 0x2000             ; screen is static while it is captured
        int 0x10

        mov dh, 0
        mov si, str_title
        call show_line
        mov dh, 2
        mov si, str_subtitle
        call show_line

        mov dh, 4
        mov cx, [pci_count]
        test cx, cx
        jnz .devices
        mov si, str_no_pci
        call show_line
        inc dh
        jmp .closing
.devices:
        cmp cx, PCI_SHOW_MAX
        jbe .count_ok
        mov cx, PCI_SHOW_MAX
.count_ok:
        mov bp, pci_table
.device:
        ; "PCI display bb:dd.f id vvvv:dddd class bbss"
        push cx
        push dx                    ; DH = row; fmt_hex takes EDX
        mov di, scr_buf
        mov si, str_pci_display
        call fmt_str
        mov bx, [bp + 0]
        call fmt_bdf
        mov si, str_pci_id
        call fmt_str
        mov cx, 4
        movzx edx, word [bp + 2]
        call fmt_hex
        mov al, ':'
        stosb
        movzx edx, word [bp + 4]
        call fmt_hex
        mov si, str_pci_class
        call fmt_str
        movzx edx, word [bp + 6]
        call fmt_hex
        mov byte [di], 0
        pop dx
        pop cx
        mov si, scr_buf
        call show_line
        inc dh
        add bp, PCI_ENTRY
        loop .device

.closing:
        inc dh                     ; one blank row
        mov si, str_complete
        call show_line
        popa
        ret

; ---------------------------------------------------------------------------
; Graphics
; ---------------------------------------------------------------------------

; graphics_stage: find the card's VBE, set the best direct-colour LFB mode
; (640x480x32, 640x480x16, 800x600x32, 800x600x16, in that order), or mode
; 13h when there is no VBE, no such mode, or 4F02h fails; draw the pattern
; with this run's code, report "graphics show", then "graphics hold".
graphics_stage:
        pushad
        push fs
        call gfx_pick_code

        ; VBE controller info, asking for the VBE 2.0 fields.
        mov dword [vbe_info + VBEI_SIG], 'VBE2'
        mov di, vbe_info           ; ES:DI = 0000:vbe_info
        mov ax, 0x4F00
        int 0x10
        xor bx, bx
        mov es, bx                 ; a BIOS should keep ES; make sure
        mov [vbe_status], ax
        xor dx, dx                 ; version 0 when the call failed
        cmp ax, VBE_OK
        jne .report_vbe
        mov dx, [vbe_info + VBEI_VERSION]
.report_vbe:
        mov [vbe_version], dx
        mov di, line_buf
        mov si, msg_gfx_vbe
        call fmt_str
        movzx edx, word [vbe_status]
        mov cx, 4
        call fmt_hex
        mov si, msg_gfx_version
        call fmt_str
        movzx edx, word [vbe_version]
        call fmt_hex
        call fmt_eol
        mov si, line_buf
        call serial_puts

        cmp word [vbe_status], VBE_OK
        jne .no_mode
        cmp dword [vbe_info + VBEI_SIG], 'VESA'
        jne .no_mode               ; no usable info block: no mode list

        ; Walk the mode list, keeping the best-ranked suitable mode.
        mov word [vbe_count], 0
        mov word [vbe_rank], 0xFFFF ; none yet
        lfs si, [vbe_info + VBEI_MODES]
.walk:
        mov cx, [fs:si]
        cmp cx, 0xFFFF
        je .walked
        cmp word [vbe_count], VBE_MODES_MAX
        jae .walked
        inc word [vbe_count]
        add si, 2
        call vbe_mode_info
        jne .walk                  ; 4F01h failed: not a candidate
        call vbe_rank_mode
        cmp ax, [vbe_rank]
        jae .walk                  ; unsuitable (FFFFh) or not better
        mov [vbe_rank], ax
        mov [vbe_mode], cx
        jmp .walk
.walked:
        mov di, line_buf
        mov si, msg_gfx_modes
        call fmt_str
        mov ax, [vbe_count]
        call fmt_dec
        call fmt_eol
        mov si, line_buf
        call serial_puts

        cmp word [vbe_rank], 0xFFFF
        je .no_mode                ; no suitable mode
        mov cx, [vbe_mode]
        call vbe_mode_info         ; the chosen mode's info, again
        jne .no_mode
        mov bx, cx
        or bx, VBE_LFB
        mov ax, 0x4F02
        int 0x10
        xor bx, bx
        mov es, bx
        mov [vbe_status], ax
        cmp ax, VBE_OK
        jne .set_failed
        call gfx_use_vbe_mode
        jmp .draw

.set_failed:
        mov di, line_buf
        mov si, msg_gfx_error
        call fmt_str
        movzx edx, word [vbe_mode]
        mov cx, 4
        call fmt_hex
        mov si, msg_gfx_status
        call fmt_str
        movzx edx, word [vbe_status]
        call fmt_hex
        call fmt_eol
        mov si, line_buf
        call serial_puts
%ifdef INSIST
        jmp .done                  ; test build: no mode 13h

.no_mode:                          ; test build: no such mode, no pattern
        mov di, line_buf
        mov si, msg_gfx_no_mode
        call fmt_str
        mov word [gfx_width], INSIST_WIDTH
        mov word [gfx_height], INSIST_HEIGHT
        mov word [gfx_bpp], INSIST_BPP
        call fmt_geometry
        call fmt_eol
        mov si, line_buf
        call serial_puts
        jmp .done
%else
        ; fall through to mode 13h

.no_mode:                          ; no VBE or no suitable mode
        mov ax, 0x0013             ; 320x200, 256 colours, A000:0000
        int 0x10
        xor bx, bx
        mov es, bx
        call gfx_use_mode13
%endif

.draw:
        ; "graphics set mode=0xMMMM width=W height=H bpp=B status=0xSSSS"
        mov di, line_buf
        mov si, msg_gfx_set
        call fmt_str
        movzx edx, word [vbe_mode]
        mov cx, 4
        call fmt_hex
        call fmt_geometry
        mov si, msg_gfx_status
        call fmt_str
        movzx edx, word [vbe_status]
        call fmt_hex
        call fmt_eol
        mov si, line_buf
        call serial_puts

        call gfx_draw
%ifdef HANG_IN_GRAPHICS
        cli                        ; test build: hang for good (header)
.hang:
        hlt
        jmp .hang
%endif

        ; "graphics show width=W height=H bpp=B code=xxxxxxxx pattern=1"
        mov di, line_buf
        mov si, msg_gfx_show
        call fmt_str
        call fmt_geometry
        mov si, msg_gfx_code
        call fmt_str
        mov edx, [gfx_code]
        mov cx, 8
        call fmt_hex
        mov si, msg_gfx_pattern
        call fmt_str
        call fmt_eol
        mov si, line_buf
        call serial_puts

        mov si, msg_gfx_hold
        mov di, msg_gfx_timeout
        call hold
.done:
        pop fs
        popad
        ret

; gfx_pick_code: gfx_code = low dword of the time stamp counter (the BIOS
; tick count on a CPU without one), never 0.
gfx_pick_code:
        pushad
        pushfd                     ; CPUID exists if EFLAGS.ID (bit 21) toggles
        pop eax
        mov ecx, eax
        xor eax, 0x00200000
        push eax
        popfd
        pushfd
        pop eax
        push ecx
        popfd
        xor eax, ecx
        test eax, 0x00200000
        jz .no_tsc
cpu 586
        xor eax, eax
        cpuid
        test eax, eax
        jz .no_tsc                 ; no leaf 1
        mov eax, 1
        cpuid
        test dl, 0x10              ; EDX bit 4: TSC
        jz .no_tsc
        rdtsc
cpu 386
        jmp .got
.no_tsc:
        mov eax, [BIOS_TICKS]
.got:
        test eax, eax
        jnz .store
        inc eax
.store:
        mov [gfx_code], eax
        popad
        ret

; vbe_mode_info: 4F01h for mode CX into mode_info. ZF set if AX = 004Fh.
; Keeps every register but AX (and FS:SI, which the walk relies on).
vbe_mode_info:
        push fs
        push es
        push ds
        pushad
        xor ax, ax
        mov es, ax
        mov di, mode_info
        mov ax, 0x4F01
        int 0x10
        mov [vbe_call_ax], ax
        popad
        pop ds
        pop es
        pop fs
        mov ax, [vbe_call_ax]
        cmp ax, VBE_OK
        ret

; vbe_rank_mode: AX = rank of the mode in mode_info, 1 (best) to 4, or FFFFh
; when it is unsuitable: it must be a supported graphics mode with a linear
; framebuffer, in direct colour (memory model 6, or a packed-pixel model 4
; that is not 8 bpp), at 640x480 or 800x600 and 32 or 16 bpp.
vbe_rank_mode:
        push bx
        mov ax, [mode_info + VBEM_ATTR]
        and ax, MA_WANTED
        cmp ax, MA_WANTED
        jne .unsuitable
        cmp dword [mode_info + VBEM_BASE], 0
        je .unsuitable
        mov bl, [mode_info + VBEM_BPP]
        mov al, [mode_info + VBEM_MODEL]
        cmp al, MM_DIRECT
        je .model_ok
        cmp al, MM_PACKED          ; 16 and 32 bpp only, below: never 8
        jne .unsuitable
.model_ok:
%ifdef INSIST
        cmp bl, INSIST_BPP         ; test build: exactly that mode, rank 1
        jne .unsuitable
        cmp word [mode_info + VBEM_WIDTH], INSIST_WIDTH
        jne .unsuitable
        cmp word [mode_info + VBEM_HEIGHT], INSIST_HEIGHT
        jne .unsuitable
        mov ax, 1
        pop bx
        ret
%endif
        xor ax, ax                 ; AX = 0 for 32 bpp, 1 for 16 bpp
        cmp bl, 32
        je .bpp_ok
        inc ax
        cmp bl, 16
        jne .unsuitable
.bpp_ok:
        cmp word [mode_info + VBEM_WIDTH], 640
        jne .not_640
        cmp word [mode_info + VBEM_HEIGHT], 480
        jne .unsuitable
        inc ax                     ; 1, 2
        pop bx
        ret
.not_640:
        cmp word [mode_info + VBEM_WIDTH], 800
        jne .unsuitable
        cmp word [mode_info + VBEM_HEIGHT], 600
        jne .unsuitable
        add ax, 3                  ; 3, 4
        pop bx
        ret
.unsuitable:
        mov ax, 0xFFFF
        pop bx
        ret

; gfx_use_vbe_mode: take the geometry, framebuffer and colour layout of the
; mode just set from mode_info, and build gfx_pal for it.
gfx_use_vbe_mode:
        pushad
        mov ax, [mode_info + VBEM_WIDTH]
        mov [gfx_width], ax
        mov ax, [mode_info + VBEM_HEIGHT]
        mov [gfx_height], ax
        movzx ax, byte [mode_info + VBEM_BPP]
        mov [gfx_bpp], ax
        shr ax, 3
        mov [gfx_bypp], al
        mov eax, [mode_info + VBEM_BASE]
        mov [gfx_base], eax
        ; The LFB's pitch: LinBytesPerScanLine from VBE 3.0 on, else (and
        ; if that is 0) BytesPerScanLine, else width * bytes per pixel.
        movzx eax, word [mode_info + VBEM_PITCH]
        cmp word [vbe_version], 0x0300
        jb .pitch
        movzx ebx, word [mode_info + VBEM_LINPITCH]
        test ebx, ebx
        jz .pitch
        mov eax, ebx
.pitch:
        test eax, eax
        jnz .pitch_ok
        movzx eax, word [gfx_width]
        movzx ebx, byte [gfx_bypp]
        mul ebx
.pitch_ok:
        mov [gfx_pitch], eax

        ; Channel masks from the mask sizes and field positions; a block
        ; that gives none (all sizes 0) gets 5:6:5 or x:8:8:8.
        mov bx, [mode_info + VBEM_RED]   ; BL = size, BH = position
        mov cx, [mode_info + VBEM_GREEN]
        mov dx, [mode_info + VBEM_BLUE]
        mov al, bl
        or al, cl
        or al, dl
        jnz .fields
        mov bx, 0x1008             ; 32 bpp: red 8 at 16, green 8 at 8, blue 8 at 0
        mov cx, 0x0808
        mov dx, 0x0008
        cmp byte [gfx_bypp], 4
        je .fields
        mov bx, 0x0B05             ; 16 bpp: red 5 at 11, green 6 at 5, blue 5 at 0
        mov cx, 0x0506
        mov dx, 0x0005
.fields:
        mov si, cx
        mov cx, bx
        call gfx_field
        mov [gfx_red], eax
        mov cx, si
        call gfx_field
        mov [gfx_green], eax
        mov cx, dx
        call gfx_field
        mov [gfx_blue], eax

        ; gfx_pal[i] for the RGB bits of colour i.
        xor si, si
.colour:
        xor eax, eax
        test si, C_RED
        jz .no_red
        or eax, [gfx_red]
.no_red:
        test si, C_GREEN
        jz .no_green
        or eax, [gfx_green]
.no_green:
        test si, C_BLUE
        jz .no_blue
        or eax, [gfx_blue]
.no_blue:
        mov bx, si
        shl bx, 2
        mov [gfx_pal + bx], eax
        inc si
        cmp si, 8
        jb .colour
        popad
        ret

; gfx_field: EAX = a channel at full intensity, CL bits wide at bit CH.
gfx_field:
        push cx
        mov eax, 1
        shl eax, cl
        dec eax
        mov cl, ch
        shl eax, cl
        pop cx
        ret

; gfx_use_mode13: mode 13h was set: its geometry, A0000h, and the default
; palette's bright EGA colours (colour i is index 8 + i, black is 0).
gfx_use_mode13:
        pushad
        mov word [vbe_mode], 0x0013
        mov word [vbe_status], 0x0000
        mov word [gfx_width], 320
        mov word [gfx_height], 200
        mov word [gfx_bpp], 8
        mov byte [gfx_bypp], 1
        mov dword [gfx_base], MODE13_BASE
        mov dword [gfx_pitch], 320
        mov dword [gfx_pal], 0
        mov eax, 9
        mov bx, 4
.colour:
        mov [gfx_pal + bx], eax
        inc eax
        add bx, 4
        cmp bx, 32
        jb .colour
        popad
        ret

; fmt_geometry: append " width=W height=H bpp=B" of the current mode.
fmt_geometry:
        push ax
        push si
        mov si, msg_gfx_width
        call fmt_str
        mov ax, [gfx_width]
        call fmt_dec
        mov si, msg_gfx_height
        call fmt_str
        mov ax, [gfx_height]
        call fmt_dec
        mov si, msg_gfx_bpp
        call fmt_str
        mov ax, [gfx_bpp]
        call fmt_dec
        pop si
        pop ax
        ret

; gfx_block_colour: AL = colour (RGB bits) of pattern block column BL, row
; BH (docs/graphics-pattern.md); rows from PAT_ROWS on are black.
gfx_block_colour:
        push cx
        push edx
        push si
        cmp bh, 4
        jb .bars
        cmp bh, 6
        jb .checker
        cmp bh, 10
        jb .bits
        cmp bh, PAT_ROWS
        jae .black
        mov al, bl                 ; rows 10, 11: red where c + r is even
        add al, bh
        test al, 1
        mov al, C_RED
        jz .done
        mov al, C_GREEN
        jmp .done
.bars:
        movzx si, bl
        shr si, 1
        mov al, [bar_colours + si]
        jmp .done
.checker:
        mov al, bl                 ; white where c + r is even
        add al, bh
        test al, 1
        mov al, C_WHITE
        jz .done
.black:
        mov al, C_BLACK
        jmp .done
.bits:
        mov cl, 31                 ; rows 6-7: bit 31 - c; rows 8-9: 15 - c
        cmp bh, 8
        jb .bit
        mov cl, 15
.bit:
        sub cl, bl
        mov edx, [gfx_code]
%ifdef WRONG_CODE
        xor edx, 0xFFFF0000        ; test build: not this run's code
%endif
        shr edx, cl
        test dl, 1
        mov al, C_WHITE
        jnz .done
        mov al, C_BLUE
.done:
        pop si
        pop edx
        pop cx
        ret

; gfx_draw: draw the whole pattern into the framebuffer at gfx_base, every
; pixel of the mode (the remainder right and below the blocks in black).
; Each scan line is written with interrupts off, through FS in unreal mode
; (base 0, limit 4 GiB) set up again for the line, so that no interrupt
; handler can leave FS with a 64 KiB limit under our 32-bit addresses.
gfx_draw:
        pushad
        push fs
        call a20_enable
        mov ax, [gfx_width]
        xor dx, dx
        mov bx, PAT_COLS
        div bx
        mov [gfx_bw], ax
        mov ax, [gfx_height]
        xor dx, dx
        mov bx, PAT_ROWS
        div bx
        mov [gfx_bh], ax

        xor bp, bp                 ; BP = y
.line:
        cmp bp, [gfx_height]
        jae .done
        ; BH = block row of line y: y / bh, or PAT_ROWS (all black) below
        ; the blocks, and for every line when bh = 0 (a mode under 12 lines).
        mov bh, PAT_ROWS
        mov cx, [gfx_bh]
        jcxz .have_row
        mov ax, bp
        xor dx, dx
        div cx
        cmp ax, PAT_ROWS
        jae .have_row
        mov bh, al
.have_row:
        xor bl, bl                 ; this line's block colours
.block_colour:
        call gfx_block_colour
        movzx si, bl
        mov [gfx_line + si], al
        inc bl
        cmp bl, PAT_COLS
        jb .block_colour

        movzx eax, bp              ; EDI = base + y * pitch
        mul dword [gfx_pitch]
        add eax, [gfx_base]
        mov edi, eax
        cli
        call unreal_fs
        xor si, si                 ; SI = block column c
.block:
        movzx bx, byte [gfx_line + si]
        shl bx, 2
        mov eax, [gfx_pal + bx]
        mov cx, [gfx_bw]
        call gfx_put
        inc si
        cmp si, PAT_COLS
        jb .block
        mov cx, [gfx_bw]           ; the remainder, W - 16 * bw pixels, black
        shl cx, 4
        neg cx
        add cx, [gfx_width]
        mov eax, [gfx_pal + C_BLACK * 4]
        call gfx_put
        sti
        inc bp
        jmp .line
.done:
        pop fs
        popad
        ret

; gfx_put: write CX pixels (CX may be 0) of value EAX, gfx_bypp bytes each,
; at FS:EDI (unreal mode), advancing EDI.
gfx_put:
        jcxz .done
        cmp byte [gfx_bypp], 2
        je .word
        ja .dword
.byte:
        mov [fs:edi], al
        inc edi
        loop .byte
        ret
.word:
        mov [fs:edi], ax
        add edi, 2
        loop .word
        ret
.dword:
        mov [fs:edi], eax
        add edi, 4
        loop .dword
.done:
        ret

; a20_enable: open the A20 gate through the fast-A20 bit of port 92h (QEMU
; and most machines come up with it open already).
a20_enable:
        push ax
        in al, 0x92
        test al, 0x02
        jnz .done
        or al, 0x02
        and al, 0xFE               ; bit 0 would reset the machine
        out 0x92, al
.done:
        pop ax
        ret

; unreal_fs: give FS base 0 and a 4 GiB limit ("unreal mode"): enter
; protected mode just long enough to load FS from unreal_gdt, then return
; to real mode, where FS keeps that limit until it is next loaded in
; protected mode. Call with interrupts off.
unreal_fs:
        push eax
        push bx
        lgdt [unreal_gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp GDT_CODE16:.protected
.protected:
        mov bx, GDT_DATA4G
        mov fs, bx
        and al, 0xFE
        mov cr0, eax
        jmp 0x0000:.real
.real:
        xor bx, bx
        mov fs, bx                 ; real-mode base 0; the limit stays
        pop bx
        pop eax
        ret

; ---------------------------------------------------------------------------
; Data
; ---------------------------------------------------------------------------

hex_digits:       db "0123456789abcdef"

msg_post_hold:    db PFX, "post hold", 13, 10, 0
msg_post_timeout: db PFX, "post hold-timeout", 13, 10, 0
msg_pci_display:  db PFX, "pci display bdf=", 0
msg_pci_id:       db " id=", 0
msg_pci_class:    db " class=", 0
msg_pci_done:     db PFX, "pci done count=", 0
msg_pci_none:     db PFX, "pci none reason=no-pci-bios", 13, 10, 0
msg_text_line:    db PFX, "text line row=", 0
msg_text_key:     db " text=", 0
msg_text_hold:    db PFX, "text hold rows=", 0
msg_text_timeout: db PFX, "text hold-timeout", 13, 10, 0
msg_calib_show:   db PFX, "calib show first-row=", CALIB_ROW_STR, " first-col=", CALIB_COL_STR
                  db " step=2 per-row=16 attr=1f", 13, 10, 0
msg_calib_hold:   db PFX, "calib hold", 13, 10, 0
msg_calib_timeout: db PFX, "calib hold-timeout", 13, 10, 0
msg_end:          db PFX, "end exit code=", EXIT_CODE_STR, 13, 10, 0

str_title:        db "hilrun bios-post v1", 0
str_subtitle:     db "Reference guest for VGA passthrough tests", 0
str_no_pci:       db "No PCI display device found", 0
str_pci_display:  db "PCI display ", 0
str_pci_id:       db " id ", 0
str_pci_class:    db " class ", 0
str_complete:     db "Text mode check complete", 0
msg_gfx_vbe:      db PFX, "graphics vbe status=0x", 0
msg_gfx_version:  db " version=0x", 0
msg_gfx_modes:    db PFX, "graphics modes count=", 0
msg_gfx_set:      db PFX, "graphics set mode=0x", 0
msg_gfx_error:    db PFX, "graphics error reason=set-mode mode=0x", 0
%ifdef INSIST
msg_gfx_no_mode:  db PFX, "graphics error reason=no-mode", 0
%endif
msg_gfx_status:   db " status=0x", 0
msg_gfx_width:    db " width=", 0
msg_gfx_height:   db " height=", 0
msg_gfx_bpp:      db " bpp=", 0
msg_gfx_show:     db PFX, "graphics show", 0
msg_gfx_code:     db " code=", 0
msg_gfx_pattern:  db " pattern=1", 0
msg_gfx_hold:     db PFX, "graphics hold", 13, 10, 0
msg_gfx_timeout:  db PFX, "graphics hold-timeout", 13, 10, 0

; Colour bars, one entry per two block columns (rows 0-3 of the pattern).
bar_colours:      db C_WHITE, C_YELLOW, C_CYAN, C_GREEN
                  db C_MAGENTA, C_RED, C_BLUE, C_BLACK

; GDT for unreal_fs: a 16-bit code segment like real mode's (base 0, 64 KiB)
; and a data segment with base 0 and a 4 GiB limit.
                  align 8, db 0
unreal_gdt:       dq 0
                  dw 0xFFFF, 0x0000        ; GDT_CODE16: limit 0FFFFh, base 0
                  db 0x00, 0x9A, 0x00, 0x00 ;  present, code, readable, byte gran.
                  dw 0xFFFF, 0x0000        ; GDT_DATA4G: limit 0FFFFFh pages, base 0
                  db 0x00, 0x92, 0xCF, 0x00 ;  present, data, writable, 4 KiB gran.
unreal_gdt_end:
unreal_gdtr:      dw unreal_gdt_end - unreal_gdt - 1
                  dd unreal_gdt

stage2_end:

; Stage 2 is read from track 0, head 0 in one int 13h call.
STAGE2_SECTORS equ (stage2_end - stage2 + 511) / 512
        times -(STAGE2_SECTORS > FLOPPY_SPT - 1) db 0 ; error here: stage 2 too big

; Pad to a full 1.44 MB floppy (2880 sectors).
        times 1474560 - ($ - $$) db 0

; ---------------------------------------------------------------------------
; Uninitialised data, in memory right behind stage 2 (not in the image)
; ---------------------------------------------------------------------------

absolute stage2_end

pci_last_bus: resb 1
              resb 1
pci_count:    resw 1               ; display devices found (all, not just shown)
rows_shown:   resw 1               ; lines written by show_line
pci_table:    resb PCI_SHOW_MAX * PCI_ENTRY
show_buf:     resb TEXT_COLS + 1
scr_buf:      resb 128
line_buf:     resb 512
vbe_info:     resb 512             ; VBE controller info block (4F00h)
mode_info:    resb 256             ; VBE mode info block (4F01h)
vbe_status:   resw 1               ; AX of the last 4F00h/4F02h (0 for mode 13h)
vbe_version:  resw 1               ; VBE version from the info block, or 0
vbe_call_ax:  resw 1
vbe_count:    resw 1               ; entries in the mode list
vbe_rank:     resw 1               ; rank of vbe_mode (vbe_rank_mode), FFFFh: none
vbe_mode:     resw 1               ; the chosen mode (0013h after the fallback)
gfx_code:     resd 1               ; this run's code, drawn and reported
gfx_base:     resd 1               ; framebuffer physical address
gfx_pitch:    resd 1               ; bytes per scan line
gfx_width:    resw 1
gfx_height:   resw 1
gfx_bpp:      resw 1
gfx_bypp:     resb 1               ; bytes per pixel: 1, 2 or 4
              resb 1
gfx_bw:       resw 1               ; block width, W / 16
gfx_bh:       resw 1               ; block height, H / 12
gfx_red:      resd 1               ; full-intensity channel values in the mode
gfx_green:    resd 1
gfx_blue:     resd 1
gfx_pal:      resd 8               ; pixel value of each colour (RGB bits)
gfx_line:     resb PAT_COLS        ; block colours of the line being drawn
