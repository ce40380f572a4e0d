; randscreen: a boot sector for ci/bench/decode. It fills the 80x25 text
; screen (mode 3, as SeaBIOS leaves it) with pseudo-random codes 0-255 and
; random attributes whose foreground differs from the background, hides the
; cursor and halts. The 16-bit seed is at offset 508 (just before the boot
; signature): the bench patches it to make each screen different.
; Build: nasm -f bin -o randscreen.img randscreen.asm
	bits 16
	org 0x7c00

	xor ax, ax
	mov ds, ax
	mov ss, ax
	mov sp, 0x7c00
	mov ah, 0x01		; hide the cursor: the screen must not blink
	mov cx, 0x2000
	int 0x10
	mov ax, 0xb800
	mov es, ax
	xor di, di
	mov bx, [seed]
	mov cx, 2000
fill:
	call rand		; code
	mov dl, al
	call rand		; attribute
	mov dh, al
	mov al, dh		; fg = low nibble, bg = high nibble: make them differ
	and al, 0x0f
	mov ah, dh
	shr ah, 4
	cmp al, ah
	jne .ok
	xor dh, 0x08		; flip the fg's intensity bit: now fg != bg
.ok:	mov ax, dx
	stosw
	loop fill
halt:
	hlt
	jmp halt

; xorshift16 on bx; returns the low byte in al (Marsaglia's 7,9,8 triple)
rand:
	mov ax, bx
	shl ax, 7
	xor bx, ax
	mov ax, bx
	shr ax, 9
	xor bx, ax
	mov ax, bx
	shl ax, 8
	xor bx, ax
	mov al, bh
	ret

	times 508 - ($ - $$) db 0
seed:	dw 0x1234
	dw 0xaa55
