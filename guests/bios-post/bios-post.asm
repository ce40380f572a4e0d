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
;   5. "end exit code=16" and a write to isa-debug-exit (QEMU exits with 33).
;
; Layout: sector 1 is the boot sector (loaded by the BIOS at 0000:7C00); it
; holds the serial routines and loads the rest (stage 2) to 0000:7E00, right
; behind itself, so the whole file is assembled with one origin.
; Real mode, 16-bit code; 32-bit registers are used for PCI dwords (386+).

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
