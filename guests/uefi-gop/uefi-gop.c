/*
 * uefi-gop.c - hilrun reference guest "uefi-gop", version 1.
 *
 * An EFI application (gnu-efi), booted by OVMF as removable media from
 * \EFI\BOOT\BOOTX64.EFI. It checks what a graphics card shows through the
 * UEFI path, reporting every step on COM1 in the format of
 * docs/report-protocol.md ("Events of the uefi-gop guest"):
 *   1. hello, then "post hold" while the firmware's screen is untouched;
 *   2. text through the UEFI console (ConOut), each line also reported,
 *      then "text hold";
 *   3. every Graphics Output Protocol instance: its device path, its modes
 *      and its current mode;
 *   4. a mode set on the first GOP (640x480, else 800x600, else the current
 *      mode) and the test pattern of docs/graphics-pattern.md drawn with
 *      Blt fills, carrying a per-run code; "graphics show", "graphics hold";
 *   5. "end exit code=16" and a write to isa-debug-exit (QEMU exits with 33);
 *      without that device, ResetSystem(EfiResetShutdown).
 *
 * Report lines go straight to the UART at 0x3F8 (port I/O), not through the
 * firmware's SerialIo: OVMF mirrors its console on the same port, so each
 * line is sent as "\r\n" + line + "\r\n" to start on a line of its own. The
 * UART is used as the firmware left it (115200 8N1). During a hold the task
 * priority is raised to TPL_NOTIFY so that the firmware's terminal driver,
 * which polls the port from a timer event, cannot take the runner's ack
 * (without it, OVMF 2022.11 swallowed most acks and the holds timed out).
 */

#include <efi.h>
#include <efilib.h>

#define GUEST_NAME "uefi-gop"
#define GUEST_VERSION 1
#define PFX "HILRUN/1 "

#define EXIT_CODE 16              /* isa-debug-exit: QEMU exits with 16*2+1 */
#define DEBUG_EXIT_PORT 0xF4

#define COM1 0x3F8
#define UART_DATA (COM1 + 0)
#define UART_LSR (COM1 + 5)
#define LSR_DR 0x01               /* a received byte is waiting */
#define LSR_THRE 0x20             /* transmit holding register empty */
#define LSR_TEMT 0x40             /* transmitter completely empty */
#define DRAIN_MAX 256             /* bound on bytes discarded per drain */
#define DRAIN_QUIET_MS 20         /* after an ack: stop after this long idle */

#define HOLD_MS 30000             /* hold timeout */
#define STEP_US 1000              /* Stall step while waiting */

#define LINE_MAX 512              /* REPORT_LINE_MAX, prefix included */

/* The mode the pattern is drawn in, in order of preference. */
static const struct { UINT32 w, h; } wanted_modes[] = { { 640, 480 }, { 800, 600 } };

/* Text shown through ConOut: row and plain ASCII text. */
static const struct { UINTN row; const char *text; } text_lines[] = {
	{ 0, "hilrun uefi-gop guest" },
	{ 2, "UEFI console text through the Graphics Output Protocol" },
	{ 4, "report lines go to COM1 at port 3F8" },
};

static EFI_GUID gop_guid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;
static EFI_SYSTEM_TABLE *st;
static EFI_BOOT_SERVICES *bs;

/* ------------------------------------------------------------------------
 * Port I/O and the UART
 * ------------------------------------------------------------------------ */

static inline void outb(UINT16 port, UINT8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline UINT8 inb(UINT16 port)
{
	UINT8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline UINT32 rdtsc_low(void)
{
	UINT32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	(void)hi;
	return lo;
}

static void serial_putc(char c)
{
	while (!(inb(UART_LSR) & LSR_THRE))
		;
	outb(UART_DATA, (UINT8)c);
}

static void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

/* Discard received bytes, at most DRAIN_MAX (a missing UART reads 0xFF). */
static void serial_drain(void)
{
	for (int n = 0; n < DRAIN_MAX && (inb(UART_LSR) & LSR_DR); n++)
		(void)inb(UART_DATA);
}

/* After an ack: discard what comes with it ("A\n" may arrive in pieces)
 * until the line has been idle for DRAIN_QUIET_MS, at most DRAIN_MAX bytes. */
static void serial_drain_quiet(void)
{
	int n = 0, quiet = 0;
	while (n < DRAIN_MAX && quiet < DRAIN_QUIET_MS) {
		if (inb(UART_LSR) & LSR_DR) {
			(void)inb(UART_DATA);
			n++;
			quiet = 0;
		} else {
			bs->Stall(STEP_US);
			quiet++;
		}
	}
}

/* ------------------------------------------------------------------------
 * Report lines
 * ------------------------------------------------------------------------ */

struct line {
	char buf[LINE_MAX];
	UINTN len;
};

static void l_char(struct line *l, char c)
{
	/* Room for "\r\n" and the NUL; a longer line is cut here, but no line
	 * of this guest comes near the limit. */
	if (l->len + 3 < sizeof l->buf)
		l->buf[l->len++] = c;
}

static void l_str(struct line *l, const char *s)
{
	while (*s)
		l_char(l, *s++);
}

static void l_start(struct line *l, const char *s)
{
	l->len = 0;
	l_str(l, PFX);
	l_str(l, s);
}

static void l_dec(struct line *l, UINT64 v)
{
	char d[21];
	int n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		l_char(l, d[--n]);
}

/* Lowercase hex; at least `digits` digits. */
static void l_hex(struct line *l, UINT64 v, int digits)
{
	char d[16];
	int n = 0;
	do {
		d[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v && n < 16);
	while (n < digits && n < 16)
		d[n++] = '0';
	while (n)
		l_char(l, d[--n]);
}

/* " key=" then the decimal value. */
static void l_kdec(struct line *l, const char *key, UINT64 v)
{
	l_char(l, ' ');
	l_str(l, key);
	l_char(l, '=');
	l_dec(l, v);
}

/* " key=0x" then the hex value (EFI statuses, addresses). */
static void l_khex(struct line *l, const char *key, UINT64 v)
{
	l_char(l, ' ');
	l_str(l, key);
	l_str(l, "=0x");
	l_hex(l, v, 1);
}

/* " key=" then a quoted value, with \" and \\ escaped. */
static void l_kquoted(struct line *l, const char *key, const char *s)
{
	l_char(l, ' ');
	l_str(l, key);
	l_str(l, "=\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			l_char(l, '\\');
		l_char(l, *s);
	}
	l_char(l, '"');
}

/* Send the line, on a line of its own whatever the firmware printed. */
static void l_send(struct line *l)
{
	l->buf[l->len] = '\0';
	serial_puts("\r\n");
	serial_puts(l->buf);
	serial_puts("\r\n");
}

static void report(const char *s)
{
	struct line l;
	l_start(&l, s);
	l_send(&l);
}

/* Send the hold line, then wait without touching the screen until any byte
 * arrives on COM1 (the runner's ack) or HOLD_MS pass; on timeout send
 * `timeout_event`. The ack and the bytes sent with it are consumed. */
static void hold(struct line *hold_line, const char *timeout_event)
{
	EFI_TPL old = bs->RaiseTPL(TPL_NOTIFY);
	int acked = 0;

	serial_drain();                 /* stale bytes must not count as an ack */
	l_send(hold_line);
	for (int ms = 0; ms < HOLD_MS; ms++) {
		if (inb(UART_LSR) & LSR_DR) {
			acked = 1;
			break;
		}
		bs->Stall(STEP_US);
	}
	if (acked)
		serial_drain_quiet();
	else
		report(timeout_event);
	bs->RestoreTPL(old);
}

static void hold_simple(const char *event, const char *timeout_event)
{
	struct line l;
	l_start(&l, event);
	hold(&l, timeout_event);
}

/* ------------------------------------------------------------------------
 * Text through the UEFI console
 * ------------------------------------------------------------------------ */

static EFI_STATUS con_print_at(UINTN row, const char *s)
{
	SIMPLE_TEXT_OUTPUT_INTERFACE *out = st->ConOut;
	CHAR16 w[128];
	UINTN n = 0;
	EFI_STATUS status;

	while (s[n] && n + 1 < sizeof w / sizeof w[0]) {
		w[n] = (CHAR16)(UINT8)s[n];
		n++;
	}
	w[n] = 0;
	status = out->SetCursorPosition(out, 0, row);
	if (EFI_ERROR(status))
		return status;
	return out->OutputString(out, w);
}

static void text_screen(void)
{
	SIMPLE_TEXT_OUTPUT_INTERFACE *out = st->ConOut;
	UINTN cols = 0, rows = 0, shown = 0;
	struct line l;

	if (out->QueryMode(out, (UINTN)out->Mode->Mode, &cols, &rows) == EFI_SUCCESS) {
		l_start(&l, "text console");
		l_kdec(&l, "mode", (UINT64)out->Mode->Mode);
		l_kdec(&l, "cols", cols);
		l_kdec(&l, "rows", rows);
		l_send(&l);
	}

	out->SetAttribute(out, EFI_TEXT_ATTR(EFI_LIGHTGRAY, EFI_BLACK));
	out->EnableCursor(out, FALSE);  /* not every console can; no matter */
	out->ClearScreen(out);
	for (UINTN i = 0; i < sizeof text_lines / sizeof text_lines[0]; i++) {
		EFI_STATUS status = con_print_at(text_lines[i].row, text_lines[i].text);
		if (EFI_ERROR(status)) {
			l_start(&l, "text error reason=output");
			l_kdec(&l, "row", text_lines[i].row);
			l_khex(&l, "status", status);
		} else {
			l_start(&l, "text line");
			l_kdec(&l, "row", text_lines[i].row);
			l_kquoted(&l, "text", text_lines[i].text);
			shown++;
		}
		l_send(&l);
	}

	l_start(&l, "text hold");
	l_kdec(&l, "rows", shown);
	hold(&l, "text hold-timeout");
}

/* ------------------------------------------------------------------------
 * Graphics Output Protocol
 * ------------------------------------------------------------------------ */

static const char *format_name(EFI_GRAPHICS_PIXEL_FORMAT f)
{
	switch (f) {
	case PixelRedGreenBlueReserved8BitPerColor: return "rgbx";
	case PixelBlueGreenRedReserved8BitPerColor: return "bgrx";
	case PixelBitMask: return "bitmask";
	case PixelBltOnly: return "blt-only";
	default: return "unknown";
	}
}

/* Report the device path of a GOP's handle, which tells a card's GOP
 * (PciRoot(...)/Pci(...)/AcpiAdr(...)) from the console splitter's virtual
 * one (no device path). */
static void gop_device(UINTN h, EFI_HANDLE handle)
{
	EFI_DEVICE_PATH *path = NULL;
	CHAR16 *text = NULL;
	char ascii[LINE_MAX];
	struct line l;

	l_start(&l, "graphics gop-device");
	l_kdec(&l, "handle", h);
	if (!EFI_ERROR(bs->HandleProtocol(handle, &DevicePathProtocol, (void **)&path)) && path)
		text = DevicePathToStr(path);
	if (text) {
		UINTN n = 0;
		for (; text[n] && n + 1 < sizeof ascii; n++)
			ascii[n] = text[n] >= 0x20 && text[n] <= 0x7E ? (char)text[n] : '?';
		ascii[n] = '\0';
		bs->FreePool(text);
		l_kquoted(&l, "path", ascii);
	} else {
		l_str(&l, " path=none");
	}
	l_send(&l);
}

/* Report every mode of one GOP and its current mode. */
static void gop_list(UINTN h, EFI_GRAPHICS_OUTPUT_PROTOCOL *gop)
{
	EFI_GRAPHICS_OUTPUT_PROTOCOL_MODE *mode = gop->Mode;
	struct line l;

	for (UINT32 m = 0; m < mode->MaxMode; m++) {
		EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info = NULL;
		UINTN size = 0;
		EFI_STATUS status = gop->QueryMode(gop, m, &size, &info);
		if (EFI_ERROR(status)) {
			l_start(&l, "graphics gop-mode-error");
			l_kdec(&l, "handle", h);
			l_kdec(&l, "mode", m);
			l_khex(&l, "status", status);
		} else {
			l_start(&l, "graphics gop-mode");
			l_kdec(&l, "handle", h);
			l_kdec(&l, "mode", m);
			l_kdec(&l, "width", info->HorizontalResolution);
			l_kdec(&l, "height", info->VerticalResolution);
			l_str(&l, " format=");
			l_str(&l, format_name(info->PixelFormat));
			bs->FreePool(info);
		}
		l_send(&l);
	}

	l_start(&l, "graphics gop-current");
	l_kdec(&l, "handle", h);
	l_kdec(&l, "mode", mode->Mode);
	l_kdec(&l, "width", mode->Info->HorizontalResolution);
	l_kdec(&l, "height", mode->Info->VerticalResolution);
	l_khex(&l, "fb", mode->FrameBufferBase);
	l_send(&l);
}

/* The mode to draw in: the first of wanted_modes offered, else the current. */
static UINT32 gop_choose(EFI_GRAPHICS_OUTPUT_PROTOCOL *gop)
{
	for (UINTN w = 0; w < sizeof wanted_modes / sizeof wanted_modes[0]; w++) {
		for (UINT32 m = 0; m < gop->Mode->MaxMode; m++) {
			EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info = NULL;
			UINTN size = 0;
			int match;
			if (EFI_ERROR(gop->QueryMode(gop, m, &size, &info)))
				continue;
			match = info->HorizontalResolution == wanted_modes[w].w &&
				info->VerticalResolution == wanted_modes[w].h;
			bs->FreePool(info);
			if (match)
				return m;
		}
	}
	return gop->Mode->Mode;
}

/* Pattern colours (docs/graphics-pattern.md). */
enum { BLACK, WHITE, YELLOW, CYAN, GREEN, MAGENTA, RED, BLUE };

static const EFI_GRAPHICS_OUTPUT_BLT_PIXEL colours[] = {
	/* Blue, Green, Red, Reserved */
	[BLACK] = { 0x00, 0x00, 0x00, 0 },
	[WHITE] = { 0xFF, 0xFF, 0xFF, 0 },
	[YELLOW] = { 0x00, 0xFF, 0xFF, 0 },
	[CYAN] = { 0xFF, 0xFF, 0x00, 0 },
	[GREEN] = { 0x00, 0xFF, 0x00, 0 },
	[MAGENTA] = { 0xFF, 0x00, 0xFF, 0 },
	[RED] = { 0x00, 0x00, 0xFF, 0 },
	[BLUE] = { 0xFF, 0x00, 0x00, 0 },
};

/* The colour of block (c, r) for this code. */
static int pattern_block(UINT32 c, UINT32 r, UINT32 code)
{
	static const int bars[8] = { WHITE, YELLOW, CYAN, GREEN, MAGENTA, RED, BLUE, BLACK };

	if (r <= 3)
		return bars[c / 2];
	if (r <= 5)
		return (c + r) % 2 == 0 ? WHITE : BLACK;
	if (r <= 7)
		return (code >> (31 - c)) & 1 ? WHITE : BLUE;
	if (r <= 9)
		return (code >> (15 - c)) & 1 ? WHITE : BLUE;
	if (r == 10)
		return c % 2 == 0 ? RED : GREEN;
	return c % 2 == 0 ? GREEN : RED;
}

static EFI_STATUS fill(EFI_GRAPHICS_OUTPUT_PROTOCOL *gop, int colour,
		       UINTN x, UINTN y, UINTN w, UINTN h)
{
	EFI_GRAPHICS_OUTPUT_BLT_PIXEL px = colours[colour];
	return gop->Blt(gop, &px, EfiBltVideoFill, 0, 0, x, y, w, h, 0);
}

/* Black background, then one fill per block of the 16 x 12 grid. */
static EFI_STATUS pattern_draw(EFI_GRAPHICS_OUTPUT_PROTOCOL *gop,
			       UINT32 width, UINT32 height, UINT32 code)
{
	UINT32 bw = width / 16, bh = height / 12;
	EFI_STATUS status = fill(gop, BLACK, 0, 0, width, height);

	for (UINT32 r = 0; r < 12 && !EFI_ERROR(status); r++)
		for (UINT32 c = 0; c < 16 && !EFI_ERROR(status); c++)
			status = fill(gop, pattern_block(c, r, code), c * bw, r * bh, bw, bh);
	return status;
}

static void graphics(void)
{
	EFI_HANDLE *handles = NULL;
	UINTN count = 0;
	EFI_GRAPHICS_OUTPUT_PROTOCOL *first = NULL;
	EFI_STATUS status;
	struct line l;

	status = bs->LocateHandleBuffer(ByProtocol, &gop_guid, NULL, &count, &handles);
	if (EFI_ERROR(status)) {
		count = 0;
		handles = NULL;
	}
	l_start(&l, "graphics gop");
	l_kdec(&l, "handles", count);
	l_khex(&l, "status", status);
	l_send(&l);

	for (UINTN h = 0; h < count; h++) {
		EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
		status = bs->HandleProtocol(handles[h], &gop_guid, (void **)&gop);
		if (EFI_ERROR(status) || !gop) {
			l_start(&l, "graphics gop-error");
			l_kdec(&l, "handle", h);
			l_khex(&l, "status", status);
			l_send(&l);
			continue;
		}
		gop_device(h, handles[h]);
		gop_list(h, gop);
		if (h == 0)
			first = gop;
	}
	if (handles)
		bs->FreePool(handles);

	if (!first) {
		report("graphics error reason=no-gop");
		return;
	}

	UINT32 m = gop_choose(first);
	status = first->SetMode(first, m);
	UINT32 width = first->Mode->Info->HorizontalResolution;
	UINT32 height = first->Mode->Info->VerticalResolution;
	l_start(&l, "graphics set");
	l_kdec(&l, "mode", m);
	l_kdec(&l, "width", width);
	l_kdec(&l, "height", height);
	l_str(&l, " bpp=32");
	l_khex(&l, "status", status);
	l_send(&l);
	if (EFI_ERROR(status)) {
		l_start(&l, "graphics error reason=set-mode");
		l_khex(&l, "status", status);
		l_send(&l);
		return;
	}

	UINT32 code;
	do
		code = rdtsc_low();
	while (code == 0);

	status = pattern_draw(first, width, height, code);
	if (EFI_ERROR(status)) {
		l_start(&l, "graphics error reason=blt");
		l_khex(&l, "status", status);
		l_send(&l);
		return;
	}

	l_start(&l, "graphics show");
	l_kdec(&l, "width", width);
	l_kdec(&l, "height", height);
	l_str(&l, " bpp=32 code=");
	l_hex(&l, code, 8);
	l_str(&l, " pattern=1");
	l_send(&l);
	hold_simple("graphics hold", "graphics hold-timeout");
}

/* ------------------------------------------------------------------------
 * Entry
 * ------------------------------------------------------------------------ */

static void end_vm(void)
{
	struct line l;

	l_start(&l, "end exit");
	l_kdec(&l, "code", EXIT_CODE);
	l_send(&l);
	for (int n = 0; n < 1000000 && !(inb(UART_LSR) & LSR_TEMT); n++)
		;                       /* the last line must leave the UART */
	outb(DEBUG_EXIT_PORT, EXIT_CODE);
	/* Still here: no isa-debug-exit device. */
	st->RuntimeServices->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
	struct line l;

	InitializeLib(image, system_table);  /* for DevicePathToStr */
	st = system_table;
	bs = system_table->BootServices;

	l_start(&l, "guest hello name=" GUEST_NAME);
	l_kdec(&l, "version", GUEST_VERSION);
	l_send(&l);

	/* The boot manager armed a 5-minute watchdog; the holds may be long. */
	bs->SetWatchdogTimer(0, 0, 0, NULL);

	/* The firmware's screen is still intact: let the runner look at it. */
	hold_simple("post hold", "post hold-timeout");

	text_screen();
	graphics();
	end_vm();
	return EFI_SUCCESS;
}
