# hilrun's Windows agent: reports the display devices' driver state on COM1 in
# hilrun's report protocol (docs/report-protocol.md, "windows"), then shuts
# Windows down. Started at boot as SYSTEM by a scheduled task (README.md in
# this folder says how to install it into a lab's own image). Written for
# Windows PowerShell 2.0 (Windows 7) and later: WMI only, no Get-PnpDevice.
#
# It reports numbers and identifiers only, never localized text: PNP device
# ids, service (driver) names and versions, ConfigManagerErrorCode (the
# problem code: 0 fine, 43 CM_PROB_FAILED_POST_START, any other a yellow
# bang), DEVPKEY_Device_ProblemStatus (an NTSTATUS, Windows 8 and later),
# and whether the basic display driver (Windows 7's vga/VgaSave, Windows
# 8+'s BasicDisplay) drives the device.
#
# Optional: C:\hilrun\driver\setup.cmd, a lab's driver package installer; it
# is run once (C:\hilrun\driver\installed marks it), then the devices are
# reported again. A host that hangs during the install is measured by hilrun
# as fail:host-hang.

$ErrorActionPreference = 'Continue'
$port = New-Object System.IO.Ports.SerialPort 'COM1', 115200, 'None', 8, 'One'
$port.NewLine = "`r`n"
$port.Open()

function Say([string]$line) {
	$port.WriteLine("")
	$port.WriteLine("HILRUN/1 $line")
}

# A report value: bare if it can be, else quoted with \" and \\.
function Val([string]$s) {
	if ($s -eq $null -or $s -eq '') { return '""' }
	if ($s -match '^[\x21-\x7e]+$' -and $s -notmatch '"') { return $s }
	return '"' + ($s -replace '\\', '\\' -replace '"', '\"' -replace '[^\x20-\x7e]', '?') + '"'
}

function Report-Displays([string]$when) {
	$n = 0
	$devices = Get-WmiObject Win32_PnPEntity | Where-Object {
		$_.PNPDeviceID -like 'PCI\VEN_*' -and $_.PNPClass -eq 'Display' -or
		$_.PNPDeviceID -like 'PCI\VEN_*' -and $_.ClassGuid -eq '{4d36e968-e325-11ce-bfc1-08002be10318}'
	}
	foreach ($d in $devices) {
		$id = ''
		if ($d.PNPDeviceID -match 'VEN_([0-9A-F]{4})&DEV_([0-9A-F]{4})') {
			$id = ($matches[1] + ':' + $matches[2]).ToLower()
		}
		$driver = Get-WmiObject Win32_PnPSignedDriver |
			Where-Object { $_.DeviceID -eq $d.PNPDeviceID } | Select-Object -First 1
		$version = if ($driver) { $driver.DriverVersion } else { '' }
		$service = if ($d.Service) { $d.Service } else { '' }
		$basic = if (@('BasicDisplay', 'vga', 'VgaSave') -contains $service) { 1 } else { 0 }
		# DEVPKEY_Device_ProblemStatus {4340a6c5-93fa-4706-972c-7b648008a5a7} 12,
		# through Win32_PnPEntity.GetDeviceProperties (Windows 8 and later).
		$status = ''
		try {
			$p = $d.GetDeviceProperties(@('DEVPKEY_Device_ProblemStatus')).deviceProperties |
				Select-Object -First 1
			if ($p -and $p.Data -ne $null) { $status = '0x{0:x8}' -f [uint32]$p.Data }
		} catch { }
		Say ("driver windows-device when=$when pnp=" + (Val $d.PNPDeviceID) + " id=$id" +
		     " service=" + (Val $service) + " version=" + (Val $version) +
		     " problem=" + [int]$d.ConfigManagerErrorCode +
		     $(if ($status) { " status=$status" } else { '' }) + " basic=$basic")
		$n++
	}
	Say "driver done when=$when devices=$n"
}

$os = Get-WmiObject Win32_OperatingSystem
Say ("guest hello name=windows version=1 os=" + $os.Version)
Report-Displays 'boot'

$setup = 'C:\hilrun\driver\setup.cmd'
$marker = 'C:\hilrun\driver\installed'
if ((Test-Path $setup) -and -not (Test-Path $marker)) {
	Say "driver install package=setup.cmd"
	$p = Start-Process -FilePath $setup -Wait -PassThru -WindowStyle Hidden
	New-Item -ItemType File -Path $marker -Force | Out-Null
	Say ("driver installed result=" + $p.ExitCode)
	Start-Sleep -Seconds 10   # let Plug and Play start the new driver
	Report-Displays 'installed'
}

Say "end poweroff"
$port.Close()
Stop-Computer -Force
