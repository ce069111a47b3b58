/**
 * Reports as real MTAs and mailbox providers write them, for the parser's unit tests and the IMAP
 * test: Postfix, Exim and Gmail delivery status notifications (RFC 3464), an abuse report as in
 * RFC 5965's example and one shaped like Microsoft's JMRP, and an out-of-office auto-reply.
 */

/** Our message ids (deliver.ts messageIdFor shape). */
export const ID_A = 'ink-c.0123456789abcdef0123456789abcdef01234567'
export const ID_B = 'ink-c.89abcdef0123456789abcdef0123456789abcdef'
export const ID_C = 'ink-c.fedcba9876543210fedcba9876543210fedcba98'
export const BOUNCE = 'bounces@shop.example'

/** Lines joined with CRLF, as a message travels. */
export const crlf = (text: string) => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8')

/** Postfix 3.x: one recipient refused at RCPT TO, the original's headers as text/rfc822-headers. */
export const postfixDsn = (id = ID_A) =>
  crlf(`Return-Path: <>
Delivered-To: bounces+${id}@shop.example
Received: by mx.shop.example (Postfix) id 4D2E31C0A3; Mon, 30 Nov 2026 03:10:00 +0000 (UTC)
Date: Mon, 30 Nov 2026 03:10:00 +0000 (UTC)
From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces+${id}@shop.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="3F1A41C0A2.1764472200/mx.shop.example"
Content-Transfer-Encoding: 8bit
Message-Id: <20261130031000.4D2E31C0A3@mx.shop.example>

This is a MIME-encapsulated message.

--3F1A41C0A2.1764472200/mx.shop.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.shop.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<nobody@example.org>: host mx.example.org[192.0.2.25] said: 550 5.1.1
    <nobody@example.org>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--3F1A41C0A2.1764472200/mx.shop.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.shop.example
X-Postfix-Queue-ID: 3F1A41C0A2
X-Postfix-Sender: rfc822; bounces+${id}@shop.example
Arrival-Date: Mon, 30 Nov 2026 03:09:58 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.org
Original-Recipient: rfc822;nobody@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

--3F1A41C0A2.1764472200/mx.shop.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <bounces+${id}@shop.example>
Received: from inkstream (unknown [192.0.2.7])
	by mx.shop.example (Postfix) with ESMTP id 3F1A41C0A2
	for <nobody@example.org>; Mon, 30 Nov 2026 03:09:58 +0000 (UTC)
Message-ID: <${id}@mail.shop.example>
From: Shop <news@shop.example>
To: nobody@example.org
Subject: Your cart misses you
Date: Mon, 30 Nov 2026 03:09:57 +0000
MIME-Version: 1.0

--3F1A41C0A2.1764472200/mx.shop.example--
`)

/**
 * Exim 4.9x: a generic `Status: 5.0.0` with the remote's specific code in the Diagnostic-Code, the
 * whole original returned as message/rfc822.
 */
export const eximDsn = (id = ID_B) =>
  crlf(`Return-path: <>
Envelope-to: bounces+${id}@shop.example
Delivery-date: Mon, 30 Nov 2026 03:12:04 +0000
Received: from Debian-exim by relay.shop.example with local (Exim 4.96)
	id 1tGx2C-0004Xy-0b
	for bounces+${id}@shop.example; Mon, 30 Nov 2026 03:12:04 +0000
X-Failed-Recipients: gone@example.net
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@relay.shop.example>
To: bounces+${id}@shop.example
Content-Type: multipart/report; report-type=delivery-status; boundary=1764472324-eximdsn-1804289383
MIME-Version: 1.0
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tGx2C-0004Xy-0b@relay.shop.example>
Date: Mon, 30 Nov 2026 03:12:04 +0000

--1764472324-eximdsn-1804289383
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  gone@example.net
    host mx.example.net [198.51.100.5]
    SMTP error from remote mail server after RCPT TO:<gone@example.net>:
    550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown

--1764472324-eximdsn-1804289383
Content-type: message/delivery-status

Reporting-MTA: dns; relay.shop.example

Action: failed
Final-Recipient: rfc822;gone@example.net
Status: 5.0.0
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown

--1764472324-eximdsn-1804289383
Content-type: message/rfc822

Return-path: <bounces+${id}@shop.example>
Received: from [192.0.2.7] by relay.shop.example with esmtp (Exim 4.96)
	id 1tGx2B-0004Xu-2k
	for gone@example.net; Mon, 30 Nov 2026 03:12:03 +0000
Message-ID: <${id}@mail.shop.example>
From: Shop <news@shop.example>
To: gone@example.net
Subject: New in: winter boots
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello!

--1764472324-eximdsn-1804289383--
`)

/** Gmail's bounce: a Status, a Diagnostic-Code in words without a code, the original as message/rfc822. */
export const gmailDsn = (id = ID_C) =>
  crlf(`Return-Path: <>
Received: by mail-sor-f69.google.com with SMTP id a640c23a62f3a-aa1
        for <bounces+${id}@shop.example>; Mon, 30 Nov 2026 03:15:00 -0800 (PST)
Date: Mon, 30 Nov 2026 03:15:00 -0800 (PST)
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: bounces+${id}@shop.example
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <674ac1f4.050a0220.3b1b4c.b0e6.GMR@mx.google.com>
Content-Type: multipart/report; boundary="000000000000a1b2c3d4e5f60718"; report-type=delivery-status

--000000000000a1b2c3d4e5f60718
Content-Type: multipart/related; boundary="000000000000a1b2c3d4e5f60719"

--000000000000a1b2c3d4e5f60719
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f6071a"

--000000000000a1b2c3d4e5f6071a
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to nosuchuser@gmail.com because the address couldn't be found, or is unable to receive mail.

--000000000000a1b2c3d4e5f6071a--

--000000000000a1b2c3d4e5f60719--

--000000000000a1b2c3d4e5f60718
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; news@shop.example
Arrival-Date: Mon, 30 Nov 2026 03:14:59 -0800 (PST)
X-Original-Message-ID: <${id}@mail.shop.example>

Final-Recipient: rfc822; nosuchuser@gmail.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; The email account that you tried to reach does not exist. Please try
 double-checking the recipient's email address for typos or unnecessary spaces.
 For more information, go to https://support.google.com/mail/?p=NoSuchUser
Last-Attempt-Date: Mon, 30 Nov 2026 03:15:00 -0800 (PST)

--000000000000a1b2c3d4e5f60718
Content-Type: message/rfc822

Message-ID: <${id}@mail.shop.example>
From: Shop <news@shop.example>
To: nosuchuser@gmail.com
Subject: Last chance

Hello

--000000000000a1b2c3d4e5f60718--
`)

/** One DSN for three recipients: failed (hard), failed after retries (4.4.7: soft), delayed. */
export const multiRecipientDsn = () =>
  crlf(`From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)
To: bounces@shop.example
Subject: Undelivered Mail Returned to Sender
Message-Id: <20261130040000.AA11@mx.shop.example>
Date: Mon, 30 Nov 2026 04:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Some recipients failed.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.shop.example

Final-Recipient: rfc822; first@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 No such user

Final-Recipient: rfc822; second@example.org
Action: failed
Status: 4.4.7
Diagnostic-Code: X-Postfix; delivery temporarily suspended: connect to
    mx.example.org[192.0.2.30]:25: Connection timed out
Last-Attempt-Date: Sun, 29 Nov 2026 04:00:00 +0000

Final-Recipient: rfc822; third@example.org
Action: delayed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full

--b1
Content-Type: text/rfc822-headers

Message-ID: <${ID_A}@mail.shop.example>
To: first@example.org

--b1--
`)

/** A DSN that returns nothing of the original (a "headers: none" MTA): only the VERP address names the message. */
export const verpOnlyDsn = (id = ID_B) =>
  crlf(`From: postmaster@mx.example.org
To: bounces+${id}@shop.example
Subject: Delivery failure
Message-Id: <dsn-7781@mx.example.org>
Date: Mon, 30 Nov 2026 04:05:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="=_b2"

--=_b2
Content-Type: text/plain

Delivery failed.

--=_b2
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; absent@example.org
Action: failed
Status: 5.1.1

--=_b2--
`)

/** No Status field at all: the code is only in the Diagnostic-Code (and the delivery-status part is base64). */
export const diagnosticOnlyDsn = () => {
  const status = Buffer.from(
    'Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; full@example.org\r\nAction: failed\r\n' +
      'Diagnostic-Code: smtp; 552 5.2.2 <full@example.org>: Mailbox full\r\n',
  ).toString('base64')
  return crlf(`From: postmaster@mx.example.org
To: bounces@shop.example
Subject: Returned mail
Message-Id: <dsn-9912@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b3"

--b3
Content-Type: text/plain

Returned.

--b3
Content-Type: message/delivery-status
Content-Transfer-Encoding: base64

${status}

--b3
Content-Type: text/rfc822-headers

Message-ID: <${ID_C}@mail.shop.example>

--b3--
`)
}

/** RFC 5965 §B.1's example (an abuse report), with the reported message one of ours. */
export const rfc5965Arf = (id = ID_C) =>
  crlf(`From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <abuse@shop.example>
Message-ID: <arf-5965@example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
about this format please see http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounces+${id}@shop.example>
Original-Rcpt-To: <user@example.com>
Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT
Reporting-MTA: dns; mail.example.com
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com;
               spf=fail smtp.mail=somespammer@example.com
Reported-Domain: shop.example
Reported-URI: http://example.net/earn_money.html
Reported-URI: mailto:user@example.com
Removal-Recipient: user@example.com

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: <news@shop.example>
Received: from mailserver.shop.example (mailserver.shop.example
        [192.0.2.1]) by example.com with ESMTP id M63d4137594e46;
        Thu, 08 Mar 2005 14:00:00 -0400
To: <user@example.com>
Subject: Earn money
MIME-Version: 1.0
Content-type: text/plain
Message-ID: <${id}@mail.shop.example>
Date: Thu, 02 Sep 2004 12:31:03 -0500

Spam Spam Spam
Spam Spam Spam
--part1_13d.2e68ed54_boundary--
`)

/** Shaped like Outlook.com's JMRP report: no Original-Rcpt-To, the recipient in the original's To. */
export const microsoftArf = (id = ID_A) =>
  crlf(`From: staff@hotmail.com
To: fbl@shop.example
Subject: complaint about message from 192.0.2.7
Date: Mon, 30 Nov 2026 05:20:11 -0800
Message-ID: <f1e2d3c4-0000-4a1b-9c8d-7e6f5a4b3c2d@SN1PR01MB0001.prod.outlook.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="--Boundary_(ID_9f8e7d6c5b4a)"

----Boundary_(ID_9f8e7d6c5b4a)
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP 192.0.2.7 on Mon, 30 Nov 2026 05:01:02 -0800.
For more information about this format please see http://www.mipassoc.org/arf/.

----Boundary_(ID_9f8e7d6c5b4a)
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Hotmail FBL
Version: 0.1
Received-Date: Mon, 30 Nov 2026 05:01:02 -0800
Source-IP: 192.0.2.7

----Boundary_(ID_9f8e7d6c5b4a)
Content-Type: message/rfc822
Content-Disposition: inline

X-HmXmrOriginalRecipient: <Reader@outlook.com>
X-Reporter-IP: 203.0.113.44
Received: from mail.shop.example ([192.0.2.7]) by SN1PR01MB0001.outlook.com
Message-ID: <${id}@mail.shop.example>
From: Shop <news@shop.example>
To: Reader <Reader@outlook.com>
Subject: Weekly picks
Date: Mon, 30 Nov 2026 05:01:00 -0800

Hello
----Boundary_(ID_9f8e7d6c5b4a)--
`)

/** An out-of-office auto-reply that talks like a bounce but is none. */
export const autoReply = (id = ID_A) =>
  crlf(`From: Reader <reader@example.org>
To: bounces+${id}@shop.example
Subject: Automatic reply: Delivery failed? I am out of office
Auto-Submitted: auto-replied
X-Autoreply: yes
Message-ID: <ooo-1@example.org>
Date: Mon, 30 Nov 2026 04:30:00 +0000
In-Reply-To: <${id}@mail.shop.example>
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday. Your message could not be read: 550 5.1.1 user unknown.
Status: 5.1.1
Action: failed
`)

/** A read receipt (RFC 8098): a multipart/report that is no bounce. */
export const readReceipt = () =>
  crlf(`From: reader@example.org
To: news@shop.example
Subject: Read: Weekly picks
Message-ID: <mdn-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="m1"

--m1
Content-Type: text/plain

Your message was displayed.

--m1
Content-Type: message/disposition-notification

Final-Recipient: rfc822; reader@example.org
Disposition: manual-action/MDN-sent-manually; displayed

--m1--
`)
